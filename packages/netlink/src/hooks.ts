import { FAMILY_HOOK_NAMES, INET_HOOK_NAMES } from './facts.js';

/**
 * The name of hook `hook` in protocol family `family` (an NFPROTO_* value), as iptables
 * (arptables for arp) spells its chain, e.g. `hookName(NFPROTO_IPV4, NF_INET_LOCAL_OUT) === 'OUTPUT'`;
 * undefined for an unknown hook. Families other than arp, bridge and netdev use the inet names.
 */
export function hookName(family: number, hook: number): string | undefined {
  return (FAMILY_HOOK_NAMES[family] ?? INET_HOOK_NAMES)[hook];
}

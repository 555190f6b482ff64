import { NFPROTO_ARP, NFPROTO_BRIDGE, NFPROTO_NETDEV } from './constants.js';

/** Hook names of the inet families (IPv4, IPv6, inet), as iptables spells its chains. */
const INET_HOOK_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
/** Hook names of the bridge family: the inet ones plus BROUTING. */
const BRIDGE_HOOK_NAMES = [...INET_HOOK_NAMES, 'BROUTING'] as const;
/** Hook names of the arp family, as arptables spells its chains. */
const ARP_HOOK_NAMES = ['IN', 'OUT', 'FORWARD'] as const;
/** Hook names of the netdev family. */
const NETDEV_HOOK_NAMES = ['INGRESS', 'EGRESS'] as const;

/**
 * The name of hook `hook` in protocol family `family` (an NFPROTO_* value), e.g.
 * `hookName(NFPROTO_IPV4, NF_INET_LOCAL_OUT) === 'OUTPUT'`; undefined for an unknown hook.
 * Families other than arp, bridge and netdev use the inet names.
 */
export function hookName(family: number, hook: number): string | undefined {
  const names: readonly string[] =
    family === NFPROTO_ARP
      ? ARP_HOOK_NAMES
      : family === NFPROTO_BRIDGE
        ? BRIDGE_HOOK_NAMES
        : family === NFPROTO_NETDEV
          ? NETDEV_HOOK_NAMES
          : INET_HOOK_NAMES;
  return names[hook];
}

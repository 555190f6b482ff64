import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NFPROTO_ARP, NFPROTO_BRIDGE, NFPROTO_IPV4, NFPROTO_NETDEV, errnoName, hookName } from '../src/index.js';

const generator = fileURLToPath(new URL('../../../scripts/generate-facts.mjs', import.meta.url));

describe('the tables shared with nfq-core', () => {
  it('are what facts/nfqueue.json gives (run `npm run generate` after editing it)', () => {
    const check = spawnSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('name hooks per family as the chains of iptables, arptables and nft are named', () => {
    expect(hookName(NFPROTO_IPV4, 3)).toBe('OUTPUT');
    expect(hookName(NFPROTO_ARP, 1)).toBe('OUT');
    expect(hookName(NFPROTO_BRIDGE, 5)).toBe('BROUTING');
    expect(hookName(NFPROTO_NETDEV, 0)).toBe('INGRESS');
    expect(hookName(NFPROTO_IPV4, 5)).toBeUndefined();
  });

  it('name every Linux errno, and ENOTSUPP', () => {
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(133)).toBe('EHWPOISON');
    expect(errnoName(524)).toBe('ENOTSUPP');
  });
});

/**
 * Checks the namespace helpers themselves against the real kernel (no queue involved), so that
 * a failing kernel test points at the queue, not at its test harness.
 */
import { describe, expect, it } from 'vitest';
import { iptables, ruleCounter, run, udpReceiver, udpSend, withNamespace } from './netns.js';

const PORT = 9999;

describe('namespace helpers (real kernel)', () => {
  it('carries UDP inside a namespace and deletes the namespace afterwards', async () => {
    let name = '';
    await withNamespace(async (ns) => {
      name = ns.name;
      expect(await run('ip', ['netns', 'list'])).toContain(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const errors = await udpSend(ns.name, PORT, [Buffer.from('one'), Buffer.from('two')]);
      expect(errors).toEqual([null, null]);
      const received = await receiver.waitFor(2);
      expect(received.map((datagram) => datagram.toString())).toEqual(['one', 'two']);
    });
    expect(await run('ip', ['netns', 'list'])).not.toContain(name);
  });

  it('deletes the namespace when the test body fails', async () => {
    let name = '';
    await expect(
      withNamespace(async (ns) => {
        name = ns.name;
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    expect(await run('ip', ['netns', 'list'])).not.toContain(name);
  });

  it('reads iptables rule counters', async () => {
    await withNamespace(async (ns) => {
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '0');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await udpSend(ns.name, PORT, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
      await receiver.waitFor(3);
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x0')).toBe(3);
    });
  });
});

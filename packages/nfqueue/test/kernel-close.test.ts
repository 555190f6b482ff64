/**
 * Kernel tests of close() after a backlog: tens of thousands of packets queued and held without a
 * verdict, then close(). Nothing may be left to the kernel's flush at unbind: every packet gets the
 * default verdict from the queue, and what arrives during close passes (accept, fail-open) or is
 * dropped by the kernel (drop). Arrivals are counted by an iptables rule on INPUT (a UDP socket of
 * the usual buffer size could not take 50,000 datagrams released at once).
 */
import { describe, expect, it } from 'vitest';
import { type Packet, type Queue, openQueue, queueStats } from '../src/index.js';
import { type TestNamespace, iptables, numberedPayloads, ruleCounter, udpSend, until, withNamespace } from '@nfq/test-kit';

const PORT = 9870;
const COUNT = 50_000;

/**
 * Sends `count` 16-byte UDP datagrams to 127.0.0.1:PORT from a process in `ns`, 100 at a time,
 * each hundred from a socket of its own: a queued packet stays charged to its sender's send buffer
 * until its verdict, so one socket could hold only a few hundred. With `paceMs`, waits that long
 * between sockets. Resolves with each send's error code (null: sent).
 */
function flood(ns: TestNamespace, count: number, paceMs = 0): Promise<Array<string | null>> {
  const payloads = numberedPayloads(count, '', '', 16);
  return udpSend(ns.name, PORT, payloads, { perSocket: 100, inFlight: 100, ...(paceMs > 0 ? { restEvery: 100, restMs: paceMs } : {}) });
}

/** Datagrams to PORT that reached the namespace's INPUT chain, i.e. that passed the queue. */
const arrived = (ns: TestNamespace): Promise<number> => ruleCounter(ns.name, 'filter', 'INPUT', `udp dpt:${PORT}`);

/** Opens queue `queueNum` in `ns` with room for the whole backlog; handlers hold every packet. */
async function backlogged(
  ns: TestNamespace,
  queueNum: number,
  options: { defaultVerdict?: 'accept' | 'drop'; readerThread?: boolean; drainTimeout?: number } = {},
): Promise<{ queue: Queue; held: Packet[] }> {
  await iptables(ns.name, '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT));
  await iptables(ns.name, '-A', 'OUTPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'NFQUEUE', '--queue-num', String(queueNum));
  const queue = await openQueue({ queue: queueNum, netns: ns.name, maxLen: 100_000, receiveBufferSize: 2 ** 28, drainTimeout: 500, ...options });
  ns.defer(() => queue.close());
  const held: Packet[] = [];
  queue.on('packet', (packet) => held.push(packet)); // no verdict
  queue.on('error', () => {});
  expect(await flood(ns, COUNT)).toEqual(Array(COUNT).fill(null));
  // Every datagram is queued: held by the handler, or waiting in the socket (reading paused).
  await until(() => (queue.kernelStats()?.waiting ?? 0) === COUNT, { timeoutMs: 20_000 });
  expect(await arrived(ns)).toBe(0);
  return { queue, held };
}

/** After close: the kernel has no line for the queue any more (unbound), so nothing waits for it. */
function expectUnbound(ns: TestNamespace, queueNum: number): void {
  expect(queueStats({ netns: ns.name }).find((row) => row.queue === queueNum)).toBeUndefined();
}

describe('kernel: close() after a backlog of held packets', () => {
  it.each([
    ['the event loop', false],
    ['a reader thread', true],
  ])('gives every one of 50,000 held packets the default verdict accept (receiving on %s)', (_, readerThread) =>
    withNamespace(async (ns) => {
      const { queue } = await backlogged(ns, 21, { readerThread });
      const started = performance.now();
      await queue.close();
      const took = performance.now() - started;
      const count = await arrived(ns);
      console.log(`close() with ${COUNT} held (${readerThread ? 'reader thread' : 'event loop'}): ${count} arrived, ${took.toFixed(0)} ms`);
      expect(count).toBe(COUNT);
      const stats = queue.stats();
      expect(stats.defaultVerdicts.close).toBe(COUNT); // each got its verdict from the queue, none from the kernel's flush
      expect(stats.held).toBe(0);
      expectUnbound(ns, 21);
    }), 120_000);

  it('lets traffic that arrives during close() pass (fail-open), and gives the backlog its verdicts', () =>
    withNamespace(async (ns) => {
      const { queue, held } = await backlogged(ns, 22, { drainTimeout: 60_000 });
      // close() waits for the handlers' verdicts; meanwhile more traffic arrives.
      const closing = queue.close();
      const late = 2_000;
      expect(await flood(ns, late, 5)).toEqual(Array(late).fill(null));
      for (const packet of held) packet.accept(); // the handlers finish: close() goes on
      await closing;
      expect(await arrived(ns)).toBe(COUNT + late);
      // The kernel takes the stop only once it has read the request, which waits behind the
      // backlog in the socket: a few late datagrams may still be queued. Those got their verdict
      // from the queue too (the default), none was left to the kernel's flush.
      const stats = queue.stats();
      expect(stats.received).toBeGreaterThanOrEqual(COUNT);
      expect(stats.received).toBeLessThanOrEqual(COUNT + late);
      expect(stats.defaultVerdicts.close).toBe(stats.received - held.length);
      expect(stats.verdicts.accept).toBe(stats.received);
      expectUnbound(ns, 22);
    }), 120_000);

  it('with defaultVerdict drop, drops the backlog itself and the kernel drops what arrives during close()', () =>
    withNamespace(async (ns) => {
      const { queue } = await backlogged(ns, 23, { defaultVerdict: 'drop' });
      const closing = queue.close();
      const late = flood(ns, 1_000, 5);
      await closing;
      expect(await late).toEqual(Array(1_000).fill(null));
      expect(await arrived(ns)).toBe(0);
      const stats = queue.stats();
      // Every queued packet was dropped by the queue's verdict: the backlog, and the few late
      // datagrams queued before the kernel read the stop (it waits behind the backlog).
      expect(stats.received).toBeGreaterThanOrEqual(COUNT);
      expect(stats.received).toBeLessThanOrEqual(COUNT + 1_000);
      expect(stats.verdicts.drop).toBe(stats.received);
      expect(stats.defaultVerdicts.close).toBe(stats.received);
      expectUnbound(ns, 23);
    }), 120_000);
});

/**
 * Kernel tests of openQueueRange: real worker threads serving real queues of a
 * `--queue-balance` rule, each test in its own network namespace. The range's workers run the
 * BUILT worker (`dist/range-worker.js`), so these tests import the built package: run
 * `npm run build:ts -w @nfq/nfqueue` first (turbo builds before testing).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type QueueRange, type QueueRangeError, type WorkerExitInfo, openQueue, openQueueRange } from '../dist/index.js';
import { boundQueues, iptables, numberedPayloads, queueTable, queueUdpTo, ruleCounter, udpReceiver, udpSend, until, withNamespace } from '@nfq/test-kit';

const PORT = 9998;
const FROM = 10;
const TO = 11;
const fixture = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);

/** Queues local UDP to PORT over queues FROM:TO with the kernel's flow hash. */
const balanceRule = (ns: string): Promise<string> => queueUdpTo(ns, PORT, `${FROM}:${TO}`);

/** The netlink port id bound to `queue` in `ns`, or undefined. */
async function boundPortId(ns: string, queue: number): Promise<number | undefined> {
  return (await queueTable(ns)).find(([bound]) => bound === queue)?.[1];
}

/** Names of this process's native reader threads (`nfq-reader-N`): one per queue being served. */
function readerThreads(): string[] {
  return readdirSync('/proc/self/task')
    .map((task) => {
      try {
        return readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim();
      } catch {
        return ''; // the thread ended while listing
      }
    })
    .filter((name) => name.startsWith('nfq-reader-'));
}

/**
 * Sends `count` datagrams `flow-0`.. to 127.0.0.1:PORT inside `ns`, each from its own socket and
 * source address: the kernel's IPv4 flow hash (hash_v4) reads addresses only, not ports.
 */
async function sendFromManySources(ns: string, count: number): Promise<void> {
  const sources = Array.from({ length: count }, (_, i) => `127.0.0.${2 + i}`);
  expect(await udpSend(ns, PORT, numberedPayloads(count, 'flow-'), { source: sources })).toEqual(Array(count).fill(null));
}

/** Records a range's events. */
function recordEvents(range: QueueRange) {
  const events = {
    workerExits: [] as WorkerExitInfo[],
    restarts: [] as Array<{ queue: number; restarts: number }>,
    errors: [] as QueueRangeError[],
    closed: false,
  };
  range.on('workerExit', (info) => events.workerExits.push(info));
  range.on('restarted', (info) => events.restarts.push(info));
  range.on('error', (error) => events.errors.push(error));
  range.on('close', () => (events.closed = true));
  return events;
}

describe('kernel: openQueueRange, one worker thread per queue', () => {
  it('spreads a --queue-balance rule over both workers; every datagram arrives marked, and the counters add up', () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '7');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      // Each worker with a reader thread of its own, to see them live and go.
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-accept-mark.mjs'), netns: ns.name, copyMode: 'packet', readerThread: true });
      ns.defer(() => range.close());
      const events = recordEvents(range);
      expect(range.queues).toEqual([10, 11]);
      expect(range.workerCount).toBe(2);
      expect(await boundQueues(ns.name)).toEqual([10, 11]);
      // Each reader thread names itself once it runs, which may be just after its queue is bound.
      await until(() => readerThreads().length === 2, { what: () => `reader threads: ${readerThreads().join(', ')}` });
      expect(readerThreads().sort()).toEqual(['nfq-reader-10', 'nfq-reader-11']);

      const count = 40;
      await sendFromManySources(ns.name, count);
      const received = await receiver.waitFor(count);
      expect(new Set(received.map(String))).toEqual(new Set(Array.from({ length: count }, (_, i) => `flow-${i}`)));
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x7')).toBe(count);

      const stats = await range.stats();
      expect([...stats.perQueue.keys()]).toEqual([10, 11]);
      const perQueue10 = stats.perQueue.get(10)!;
      const perQueue11 = stats.perQueue.get(11)!;
      expect(perQueue10.received).toBeGreaterThan(0);
      expect(perQueue11.received).toBeGreaterThan(0);
      expect(perQueue10.received + perQueue11.received).toBe(count);
      expect(stats.received).toBe(count);
      expect(stats.verdicts.accept).toBe(count);
      expect(stats.native.messages).toBe(perQueue10.native.messages + perQueue11.native.messages);
      expect(stats.restarts).toBe(0);

      await range.close();
      expect(events.closed).toBe(true);
      expect(events.workerExits).toEqual([]);
      expect(events.errors).toEqual([]);
      expect(range.workerCount).toBe(0);
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }));

  it('re-opens the queue of a worker that exits, and fails loudly once its restarts are used up', () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-exit-third.mjs'), netns: ns.name, maxRestarts: 1 });
      ns.defer(() => range.close());
      const events = recordEvents(range);

      // One socket, one address pair: one flow, so one queue (which one is the kernel's hash).
      await udpSend(ns.name, PORT, ['a1', 'a2', 'a3'].map((text) => Buffer.from(text)));
      await until(() => events.restarts.length === 1, { what: () => 'the restarted worker' });
      expect(events.workerExits).toHaveLength(1);
      const [exit] = events.workerExits;
      expect(exit).toMatchObject({ code: 1, restarting: true, restarts: 1 });
      expect([10, 11]).toContain(exit!.queue);
      const crashed = exit!.queue;
      expect(events.restarts).toEqual([{ queue: crashed, restarts: 1 }]);
      // The packet in hand when the worker exited got the default verdict (accept) on the way out.
      expect((await receiver.waitFor(3)).map(String)).toEqual(['a1', 'a2', 'a3']);
      expect(await boundQueues(ns.name)).toEqual([10, 11]);
      expect(range.workerCount).toBe(2);

      // The re-bound queue serves later traffic of the same flow.
      await udpSend(ns.name, PORT, ['b1', 'b2'].map((text) => Buffer.from(text)));
      expect((await receiver.waitFor(5)).slice(3).map(String)).toEqual(['b1', 'b2']);
      const stats = await range.stats();
      expect(stats.perQueue.get(crashed)).toMatchObject({ received: 2, restarts: 1 });
      expect(stats.restarts).toBe(1);
      expect(events.errors).toEqual([]);

      // The new worker's third packet ends it too: maxRestarts 1 is used up, so the range fails and closes.
      await udpSend(ns.name, PORT, [Buffer.from('c1')]);
      await until(() => events.closed, { what: () => 'the range to close' });
      expect(events.workerExits).toHaveLength(2);
      expect(events.workerExits[1]).toMatchObject({ queue: crashed, code: 1, restarting: false, restarts: 1 });
      expect(events.errors).toHaveLength(1);
      expect(events.errors[0]).toMatchObject({ kind: 'WorkerLost', code: 'ERR_QUEUE_RANGE_WORKER_LOST', queue: crashed });
      expect(events.errors[0]!.message).toMatch(/restarts are used up/);
      expect(range.closed).toBe(true);
      expect(range.workerCount).toBe(0);
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }));

  it('with restart: false, fails and closes the whole range when a worker exits', () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-exit-third.mjs'), netns: ns.name, restart: false });
      ns.defer(() => range.close());
      const events = recordEvents(range);

      await udpSend(ns.name, PORT, ['a1', 'a2', 'a3'].map((text) => Buffer.from(text)));
      await until(() => events.closed, { what: () => 'the range to close' });
      expect(events.workerExits).toHaveLength(1);
      expect(events.workerExits[0]).toMatchObject({ code: 1, restarting: false, restarts: 0 });
      expect(events.restarts).toEqual([]);
      expect(events.errors).toHaveLength(1);
      expect(events.errors[0]).toMatchObject({ kind: 'WorkerLost', queue: events.workerExits[0]!.queue });
      expect(events.errors[0]!.message).toMatch(/restart is false/);
      expect(range.workerCount).toBe(0);
      expect(await boundQueues(ns.name)).toEqual([]); // the other worker's queue too
      expect(readerThreads()).toEqual([]);
    }));

  it('reports a throwing handler and keeps serving; restarts a worker ended by an uncaught exception', () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-throwing.mjs'), netns: ns.name, copyMode: 'packet' });
      ns.defer(() => range.close());
      const events = recordEvents(range);

      // A handler that throws: the packet gets the default verdict (accept), the range reports it, the worker lives on.
      await udpSend(ns.name, PORT, ['throw', 'after-throw'].map((text) => Buffer.from(text)));
      expect((await receiver.waitFor(2)).map(String)).toEqual(['throw', 'after-throw']);
      await until(() => events.errors.length === 1, { what: () => 'the handler error' });
      expect(events.errors[0]).toMatchObject({ name: 'QueueRangeError', kind: 'Worker', code: 'ERR_PACKET_HANDLER' });
      expect(events.errors[0]!.message).toMatch(/^queue 1[01]: .*the handler refuses this packet/);
      expect(events.workerExits).toEqual([]);

      // An uncaught exception ends the worker: workerExit carries it, and the queue is bound again.
      await udpSend(ns.name, PORT, [Buffer.from('crash')]);
      await until(() => events.restarts.length === 1, { what: () => 'the restarted worker' });
      expect(events.workerExits).toHaveLength(1);
      const [exit] = events.workerExits;
      expect(exit).toMatchObject({ queue: events.errors[0]!.queue, code: 1, restarting: true, restarts: 1 });
      expect(exit!.error?.message).toBe('uncaught in the worker');
      await udpSend(ns.name, PORT, [Buffer.from('after-crash')]);
      expect((await receiver.waitFor(4)).slice(2).map(String)).toEqual(['crash', 'after-crash']);
      expect(events.errors).toHaveLength(1);
      expect(range.workerCount).toBe(2);
      await range.close();
      expect(await boundQueues(ns.name)).toEqual([]);
    }));

  it('closes when its signal aborts; close() is idempotent and unbinds every queue', () =>
    withNamespace(async (ns) => {
      const controller = new AbortController();
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-accept-mark.mjs'), netns: ns.name, signal: controller.signal });
      ns.defer(() => range.close());
      const events = recordEvents(range);
      expect(await boundQueues(ns.name)).toEqual([10, 11]);
      controller.abort();
      const first = range.close();
      expect(range.close()).toBe(first);
      await first;
      expect(events.closed).toBe(true);
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
      // The queues are free again.
      const again = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-accept-mark.mjs'), netns: ns.name });
      expect(await boundQueues(ns.name)).toEqual([10, 11]);
      await again.close();
      expect(await boundQueues(ns.name)).toEqual([]);
    }));

  it('rejects an already aborted signal without starting a worker', () =>
    withNamespace(async (ns) => {
      const reason = new Error('stop before starting');
      await expect(
        openQueueRange({ from: FROM, to: TO, handler: fixture('range-accept-mark.mjs'), netns: ns.name, signal: AbortSignal.abort(reason) }),
      ).rejects.toBe(reason);
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }));

  it("gives handlerData and the worker's queue to each worker's setup(): its mark is on every datagram, its shared counter counts them", () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '9');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const counted = new SharedArrayBuffer((2 + TO - FROM) * Int32Array.BYTES_PER_ELEMENT);
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-handler-data.mjs'), handlerData: { mark: 9, counted, from: FROM }, netns: ns.name });
      ns.defer(() => range.close());
      const count = 20;
      await sendFromManySources(ns.name, count);
      await receiver.waitFor(count);
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x9')).toBe(count);
      expect(Atomics.load(new Int32Array(counted), 0)).toBe(count);
      expect([...new Int32Array(counted).subarray(1)]).toEqual(Array.from({ length: 1 + TO - FROM }, () => 1)); // setup(data, { queue }) once per queue
      const stats = await range.stats();
      expect(stats.perQueue.get(FROM)!.received).toBeGreaterThan(0);
      expect(stats.perQueue.get(TO)!.received).toBeGreaterThan(0);
      await range.close();
    }));

  it("calls the handler module's opened(queue) for every queue before its first packet, also a queue that gets none; stats() after close are the final ones", () =>
    withNamespace(async (ns) => {
      await balanceRule(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const counted = new SharedArrayBuffer((1 + 2 * (1 + TO - FROM)) * Int32Array.BYTES_PER_ELEMENT);
      const range = await openQueueRange({ from: FROM, to: TO, handler: fixture('range-opened.mjs'), handlerData: { counted, from: FROM }, netns: ns.name });
      ns.defer(() => range.close());
      const shared = new Int32Array(counted);
      const count = 12;
      // One socket, one source: the flow hash sends every datagram to the same queue.
      expect(await udpSend(ns.name, PORT, numberedPayloads(count))).toEqual(Array(count).fill(null));
      await receiver.waitFor(count);
      expect(Atomics.load(shared, 0)).toBe(count);
      expect([Atomics.load(shared, 1), Atomics.load(shared, 3)]).toEqual([1, 1]); // opened before any packet, on both queues
      await range.close();
      const received = [Atomics.load(shared, 2) - 1, Atomics.load(shared, 4) - 1]; // seen by each queue's 'close' listener
      expect(received.sort((a, b) => a - b)).toEqual([0, count]);
      const stats = await range.stats();
      expect([stats.perQueue.get(FROM)!.received, stats.perQueue.get(TO)!.received]).toEqual([Atomics.load(shared, 2) - 1, Atomics.load(shared, 4) - 1]);
      expect(stats.received).toBe(count);
      expect(stats.held).toBe(0);
    }));

  it('rejects a handler module whose opened(queue) throws, naming it, with no queue left bound', () =>
    withNamespace(async (ns) => {
      const counted = new SharedArrayBuffer(5 * Int32Array.BYTES_PER_ELEMENT);
      const opening = openQueueRange({ from: FROM, to: TO, handler: fixture('range-opened.mjs'), handlerData: { counted, from: FROM, failing: TO }, netns: ns.name });
      await expect(opening).rejects.toThrow(new RegExp(`handler module file:.*range-opened\\.mjs failed in opened\\(queue\\): queue ${TO} refuses to be watched`));
      await expect(opening).rejects.toMatchObject({ name: 'QueueRangeError', kind: 'HandlerModule', code: 'ERR_QUEUE_RANGE_HANDLER' });
      await until(async () => (await boundQueues(ns.name)).length === 0);
      expect(readerThreads()).toEqual([]);
    }));

  it('rejects a handler module whose setup(handlerData) throws, naming it, with no worker left', () =>
    withNamespace(async (ns) => {
      const opening = openQueueRange({ from: FROM, to: TO, handler: fixture('range-setup-throws.mjs'), handlerData: { level: 3 }, netns: ns.name });
      await expect(opening).rejects.toThrow(/handler module file:.*range-setup-throws\.mjs failed in setup\(handlerData\): this setup refuses \{"level":3\}/);
      await expect(opening).rejects.toMatchObject({ name: 'QueueRangeError', kind: 'HandlerModule', code: 'ERR_QUEUE_RANGE_HANDLER' });
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }));

  it('rejects at the first failing setup although the other worker setup never settles, with no worker left', () =>
    withNamespace(async (ns) => {
      const opening = openQueueRange({ from: FROM, to: TO, handler: fixture('range-setup-hangs-or-throws.mjs'), handlerData: { failing: FROM }, netns: ns.name });
      await expect(opening).rejects.toThrow(new RegExp(`failed in setup\\(handlerData\\): queue ${FROM} refuses`));
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }));

  it.each([
    ['a missing module', 'no-such-handler.mjs', /handler module file:.*no-such-handler\.mjs could not be loaded: Cannot find module/, 'ERR_MODULE_NOT_FOUND'],
    ['a module without a default export', 'range-no-default.mjs', /handler module file:.*range-no-default\.mjs has no default export function.*it exports handler/, 'ERR_QUEUE_RANGE_HANDLER'],
    ['a module that throws on import', 'range-throws-on-load.mjs', /handler module file:.*range-throws-on-load\.mjs could not be loaded: this handler module is broken on purpose/, 'ERR_QUEUE_RANGE_HANDLER'],
  ])('rejects a handler that is %s, naming it, with no worker left', (_what, file, message, code) =>
    withNamespace(async (ns) => {
      const opening = openQueueRange({ from: FROM, to: TO, handler: fixture(file), netns: ns.name });
      await expect(opening).rejects.toThrow(message);
      await expect(opening).rejects.toMatchObject({ name: 'QueueRangeError', kind: 'HandlerModule', code });
      expect(await boundQueues(ns.name)).toEqual([]);
      expect(readerThreads()).toEqual([]);
    }),
  );

  it('rejects when one queue of the range is taken, and unbinds the ones it had bound', () =>
    withNamespace(async (ns) => {
      const taken = await openQueue({ queue: TO, netns: ns.name, readerThread: true });
      ns.defer(() => taken.close());
      const opening = openQueueRange({ from: FROM, to: TO, handler: fixture('range-accept-mark.mjs'), netns: ns.name });
      await expect(opening).rejects.toMatchObject({ name: 'QueueRangeError', kind: 'Open', code: 'EPERM', queue: TO });
      await expect(opening).rejects.toThrow(/queue 11 could not be opened: .*already bound/);
      // Queue 10's worker had bound it; it is gone, and only this thread's queue 11 remains.
      expect(await boundQueues(ns.name)).toEqual([TO]);
      expect(await boundPortId(ns.name, TO)).toBe(taken.portId);
      expect(readerThreads()).toEqual(['nfq-reader-11']);
    }));
});

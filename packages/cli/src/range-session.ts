/** `nf-queue --queue-balance`: a range of queues served by worker threads. */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { type KernelQueueStats, type PrometheusQueue, type QueueMetrics, type QueueRange, mergeStats } from '@nfq/nfqueue';
import type { CliOptions } from './args.js';
import { describeError } from './describe-error.js';
import type { CliEnvironment, PacketRecorder } from './environment.js';
import type { RunCounters } from './format.js';
import { queueOptionsOf } from './queue-options.js';
import {
  COUNTER_IN_FLIGHT,
  COUNTER_LINES_DROPPED,
  COUNTER_PCAP_CLOSED,
  COUNTER_RECORDS_DROPPED,
  COUNTER_SLOTS,
  COUNTER_STDOUT_CLOSED,
  COUNTER_VERDICTED,
  type RangeMessage,
  type ServeSettings,
  type WorkerHandlerSetup,
} from './serve.js';
import { type Served, type Session, sumKernelDrops } from './session.js';

/**
 * Opens `--queue-balance`'s range, one worker per queue running worker-handler.js with the run's
 * settings and shared counters as its handlerData; the workers' lines and pcap records arrive on
 * the output channel and go to `print` and `recorder`; `stop('count')` once they reach `--count`.
 */
export async function openRange(
  options: CliOptions,
  settings: ServeSettings,
  print: (text: string, lines: number) => void,
  recorder: PacketRecorder | undefined,
  stop: (reason: string) => void,
  environment: CliEnvironment,
): Promise<Session> {
  const balance = options.queueBalance!;
  const counters = new Int32Array(new SharedArrayBuffer(COUNTER_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  const outputChannel = `nf-queue-${process.pid}-${randomBytes(6).toString('hex')}.output`;
  const output = new BroadcastChannel(outputChannel);
  const finals = new Map<number, RunCounters>();
  /** Each worker's kernel line, read just before its queue unbound. */
  const finalKernelRows = new Map<number, KernelQueueStats>();
  /** Each worker's metrics as it last posted them (`--metrics`). */
  const reportedMetrics = new Map<number, QueueMetrics>();
  // The workers' lines and records: taken at once (the bound of what is in flight is freed), then
  // printed or written by the main thread's bounded writers.
  output.onmessage = (event) => {
    const message = (event as { data: RangeMessage }).data;
    if (message.type === 'final') {
      finals.set(message.queue, message.stats);
      if (message.kernel) finalKernelRows.set(message.queue, message.kernel);
    }
    if (message.type === 'metrics') reportedMetrics.set(message.metrics.queue, message.metrics);
    if (message.type !== 'output') return;
    Atomics.sub(counters, COUNTER_IN_FLIGHT, message.size);
    if (message.text !== undefined) print(message.text, message.lines ?? 1);
    if (message.records !== undefined) recorder?.appendRecords(message.records, message.count ?? 0);
  };
  const handlerData: WorkerHandlerSetup = {
    ...settings,
    counters: counters.buffer as SharedArrayBuffer,
    outputChannel,
    count: options.count,
    pcap: recorder !== undefined,
    metrics: options.metrics !== undefined,
  };
  let range: QueueRange;
  try {
    range = await environment.openQueueRange({
      ...queueOptionsOf(options),
      from: balance.from,
      to: balance.to,
      handler: new URL('./worker-handler.js', import.meta.url),
      handlerData,
    });
  } catch (error) {
    output.close();
    throw error;
  }
  range.on('error', (error) => {
    environment.printError(describeError(error));
    if (error.kind === 'WorkerLost') stop('error');
  });
  // Wake when the workers reach --count.
  let waiting = true;
  void (async () => {
    while (waiting && options.count !== undefined) {
      const seen = Atomics.load(counters, COUNTER_VERDICTED);
      if (seen >= options.count) {
        stop('count');
        return;
      }
      const wait = waitAsync(counters, COUNTER_VERDICTED, seen, 250);
      if (wait.async) await wait.value;
    }
  })();
  const merged = async (): Promise<RunCounters> => {
    const stats = await range.stats();
    return stats;
  };
  const kernelRows = (): KernelQueueStats[] =>
    environment.kernelQueueStats(options.netns).filter((row) => row.queue >= balance.from && row.queue <= balance.to);
  /** The workers' reports; a queue whose worker has posted none yet (no packet) has its kernel line only. */
  const metrics = async (): Promise<PrometheusQueue[]> => {
    let rows: KernelQueueStats[] = [];
    if (range.queues.some((queue) => !reportedMetrics.has(queue))) {
      try {
        rows = kernelRows();
      } catch {
        rows = []; // /proc is root's to read
      }
    }
    return range.queues.map((queue) => {
      const reported = reportedMetrics.get(queue);
      if (reported) return reported;
      const row = rows.find((r) => r.queue === queue);
      return row ? { queue, kernel: { waiting: row.waiting, queueDropped: row.queueDropped, userDropped: row.userDropped } } : { queue };
    });
  };
  const served: Served = {
    counters: merged,
    metrics,
    kernelDrops() {
      const drops = sumKernelDrops(kernelRows());
      return drops === undefined ? undefined : drops.queueFull + drops.socketFull;
    },
    stopOutput(what) {
      Atomics.store(counters, what === 'stdout' ? COUNTER_STDOUT_CLOSED : COUNTER_PCAP_CLOSED, 1);
    },
    outputDropped: () => ({ lines: Atomics.load(counters, COUNTER_LINES_DROPPED), records: Atomics.load(counters, COUNTER_RECORDS_DROPPED) }),
    async close() {
      waiting = false;
      const before = await range.stats();
      // The lines as they are now, for a queue whose worker posts none (it was lost).
      let rowsBefore: KernelQueueStats[] = [];
      try {
        rowsBefore = kernelRows();
      } catch {
        rowsBefore = [];
      }
      await range.close();
      // Each worker posts its final counters as its queue closes; give them a moment to arrive.
      for (let waited = 0; finals.size < range.queues.length && waited < 500; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      output.close();
      const perQueue = range.queues.map((queue) => finals.get(queue) ?? before.perQueue.get(queue)).filter((stats) => stats !== undefined);
      // Each worker's last line, read as its queue unbound, counts the drops of the shutdown too.
      const lastRows = range.queues
        .map((queue) => finalKernelRows.get(queue) ?? rowsBefore.find((row) => row.queue === queue))
        .filter((row) => row !== undefined);
      return { counters: mergeStats([NO_COUNTERS, ...perQueue]), kernelDrops: sumKernelDrops(lastRows) };
    },
  };
  return {
    served,
    async dropPrivileges(user) {
      await range.dropPrivileges(user); // every worker keeps CAP_NET_ADMIN on its own thread
    },
  };
}

/** `Atomics.waitAsync` (Node 16+; its type is in lib ES2024, newer than this package's ES2022). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Counters of no queue: what {@link mergeStats} adds a range's queues to (a range whose workers posted none sums to these). */
const NO_COUNTERS: RunCounters = { received: 0, overruns: 0, verdicts: { accept: 0, drop: 0 }, defaultVerdicts: {} };

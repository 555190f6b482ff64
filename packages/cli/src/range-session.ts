/** `nf-queue --queue-balance`: a range of queues served by worker threads. */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { type KernelQueueStats, type PrometheusQueue, type QueueMetrics, type QueueRange, QueueRangeError, mergeStats } from '@nfq/nfqueue';
import type { CliOptions } from './args.js';
import { describeError } from './describe-error.js';
import type { CliEnvironment, PacketRecorder } from './environment.js';
import type { RunCounters } from './format.js';
import { firstHandlerErrorLine } from './policy.js';
import { queueOptionsOf } from './queue-options.js';
import {
  COUNTER_IN_FLIGHT,
  COUNTER_LINES_DROPPED,
  COUNTER_PCAP_CLOSED,
  COUNTER_RECORDS_DROPPED,
  COUNTER_SLOTS,
  COUNTER_STDOUT_CLOSED,
  COUNTER_VERDICTED,
  type PolicyControlMessage,
  type RangeMessage,
  type ServeSettings,
  type WorkerHandlerSetup,
} from './serve.js';
import { type Served, type Session, sumKernelDrops } from './session.js';

/**
 * Opens `--queue-balance`'s range, one worker per queue running worker-handler.js with the run's
 * settings and shared counters as its handlerData (and the `--handler` policy at `policyUrl`,
 * which every worker loads); the workers' lines and pcap records arrive on
 * the output channel and go to `print` and `recorder`; `stop('count')` once they reach `--count`.
 */
export async function openRange(
  options: CliOptions,
  policyUrl: string | undefined,
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
    if (message.type === 'reloaded') {
      reloadAnswers?.(message);
      return;
    }
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
  /** Where the workers' answers to a reload go while one runs. */
  let reloadAnswers: ((answer: Extract<RangeMessage, { type: 'reloaded' }>) => void) | undefined;
  const controlChannel = `nf-queue-${process.pid}-${randomBytes(6).toString('hex')}.control`;
  const handlerData: WorkerHandlerSetup = {
    ...settings,
    counters: counters.buffer as SharedArrayBuffer,
    outputChannel,
    count: options.count,
    pcap: recorder !== undefined,
    metrics: options.metrics !== undefined,
    policy:
      policyUrl === undefined
        ? undefined
        : {
            url: policyUrl,
            name: options.handler!,
            context: { queueBalance: balance, defaultVerdict: options.verdict, netns: options.netns },
            controlChannel,
          },
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
    // A policy that cannot be loaded is named by its own error, not by the module that loads it.
    if (error instanceof QueueRangeError && error.kind === 'HandlerModule' && policyUrl !== undefined) {
      const policyError = /: (the policy .*)$/s.exec(error.message);
      if (policyError) throw new Error(policyError[1], { cause: error });
    }
    throw error;
  }
  let handlerErrorShown = false;
  range.on('error', (error) => {
    if (error.code === 'ERR_PACKET_HANDLER') {
      // A broken policy fails on every packet: say it once; the summary counts them all.
      if (handlerErrorShown) return;
      handlerErrorShown = true;
      environment.printError(firstHandlerErrorLine(describeError(error)));
      return;
    }
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
      for (let waited = 0; finals.size < range.queues.length && waited < 2000; waited += 10) {
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
  /** Asks every worker to reload the policy; one line for those that did, one per reason for those that could not. */
  const reloadPolicy = async (): Promise<void> => {
    const control = new BroadcastChannel(controlChannel);
    const answers = new Map<number, string | undefined>();
    const expected = range.queues.length;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RELOAD_DEADLINE_MS);
        reloadAnswers = (answer) => {
          answers.set(answer.queue, answer.error);
          if (answers.size >= expected) {
            clearTimeout(timer);
            resolve();
          }
        };
        control.postMessage({ type: 'reload' } satisfies PolicyControlMessage);
      });
    } finally {
      reloadAnswers = undefined;
      control.close();
    }
    const reloaded = [...answers].filter(([, error]) => error === undefined).map(([queue]) => queue);
    const failures = new Map<string, number[]>();
    for (const [queue, error] of answers) if (error !== undefined) failures.set(error, [...(failures.get(error) ?? []), queue]);
    if (reloaded.length > 0) {
      handlerErrorShown = false; // the new policy's first error is shown too
      environment.printError(`nf-queue: reloaded the policy ${options.handler} (queues ${reloaded.sort((a, b) => a - b).join(', ')})`);
    }
    for (const [error, queues] of failures) {
      environment.printError(`nf-queue: ${error}; queues ${queues.sort((a, b) => a - b).join(', ')} keep the running policy`);
    }
    const silent = range.queues.filter((queue) => !answers.has(queue));
    if (silent.length > 0) environment.printError(`nf-queue: queues ${silent.join(', ')} did not answer the reload within ${RELOAD_DEADLINE_MS} ms`);
  };
  return {
    served,
    async dropPrivileges(user) {
      await range.dropPrivileges(user); // every worker keeps CAP_NET_ADMIN on its own thread
    },
    ...(policyUrl !== undefined && { reloadPolicy }),
  };
}

/** How long a reload waits for every worker's answer: 10 s. */
const RELOAD_DEADLINE_MS = 10_000;

/** `Atomics.waitAsync` (Node 16+; its type is in lib ES2024, newer than this package's ES2022). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** Counters of no queue: what {@link mergeStats} adds a range's queues to (a range whose workers posted none sums to these). */
const NO_COUNTERS: RunCounters = { received: 0, overruns: 0, verdicts: { accept: 0, drop: 0 }, defaultVerdicts: {} };

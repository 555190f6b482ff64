/**
 * The handler module of `nf-queue --queue-balance A:B`: each worker thread of
 * `openQueueRange` imports it, calls its {@link setup} with the run's settings (the range's
 * `handlerData`, see `serve.ts`), and serves its queue with it: the configured verdict for every
 * packet, or the `--handler` policy's (loaded in each worker, reloaded when the main thread says), its line and its pcap record posted (in batches) on the output channel to the main
 * thread, which prints and writes them.
 *
 * The settings carry shared counters: with them the workers stop at exactly `--count` packets
 * over all queues, the main thread sees progress, and output is bounded: while the main thread
 * is behind (a slow reader of stdout or of a FIFO), lines and records beyond
 * {@link OUTPUT_IN_FLIGHT_BYTES} are dropped and counted, never held; once stdout is closed or
 * the pcap file failed, nothing more is made for them. A verdict never waits for output.
 */
import { BroadcastChannel } from 'node:worker_threads';
import type { KernelQueueStats, Packet, Queue } from '@nfq/nfqueue';
import type { GivenVerdict } from './format.js';
import { pcapNow, pcapRecordHeader, PCAP_RECORD_HEADER_LENGTH, PCAP_SNAPLEN } from './pcap.js';
import { Policy, verdictServer } from './policy.js';
import {
  COUNTER_CLAIMED,
  COUNTER_IN_FLIGHT,
  COUNTER_LINES_DROPPED,
  COUNTER_PCAP_CLOSED,
  COUNTER_RECORDS_DROPPED,
  COUNTER_STDOUT_CLOSED,
  COUNTER_VERDICTED,
  METRICS_REPORT_MS,
  OUTPUT_IN_FLIGHT_BYTES,
  type PolicyControlMessage,
  type RangeMessage,
  type WorkerHandlerSetup,
  verdictGiver,
  packetOutput,
} from './serve.js';

/** A batch is posted at the latest once it holds this many bytes (else on the next turn of the event loop). */
const BATCH_BYTES = 256 * 1024;

let settings!: WorkerHandlerSetup;
/** Gives each packet its verdict (the fixed one, or the policy's) and counts it. */
let serve!: (packet: Packet) => Promise<void> | undefined;
let counters!: Int32Array;
let output!: BroadcastChannel;
/** The verdict a `--json` line carries: the fixed one, or none when a policy decides later. */
let jsonVerdict: GivenVerdict | undefined;

/**
 * Takes the run's settings, before the worker binds its queue (openQueueRange calls it with its
 * handlerData and the worker's queue); loads the `--handler` policy, and listens for its reloads.
 */
export async function setup(data: WorkerHandlerSetup, worker: { queue: number }): Promise<void> {
  settings = data;
  jsonVerdict = data.policy === undefined ? data : undefined;
  counters = new Int32Array(data.counters);
  output = new BroadcastChannel(data.outputChannel);
  output.unref();
  const policySetup = data.policy;
  const loaded = policySetup && (await Policy.load(policySetup.url, policySetup.name, { ...policySetup.context, queue: worker.queue }));
  serve = verdictServer(loaded, verdictGiver(data), counted);
  if (policySetup === undefined || loaded === undefined) return;
  const control = new BroadcastChannel(policySetup.controlChannel);
  control.unref();
  control.onmessage = (event) => {
    if ((event as { data: PolicyControlMessage }).data.type !== 'reload') return;
    loaded.reload().then(
      () => output.postMessage({ type: 'reloaded', queue: worker.queue } satisfies RangeMessage),
      (error: unknown) => output.postMessage({ type: 'reloaded', queue: worker.queue, error: (error as Error).message } satisfies RangeMessage),
    );
  };
}

let lines: string[] = [];
let lineBytes = 0;
let records: Buffer[] = [];
let recordBytes = 0;
let flushQueued = false;

/** Reserves `size` bytes of the in-flight budget; false (nothing reserved) when it is spent. */
function reserve(shared: Int32Array, size: number): boolean {
  if (Atomics.add(shared, COUNTER_IN_FLIGHT, size) + size <= OUTPUT_IN_FLIGHT_BYTES) return true;
  Atomics.sub(shared, COUNTER_IN_FLIGHT, size);
  return false;
}

/** Posts the batched lines and records to the main thread, or drops (and counts) what does not fit. */
function flush(): void {
  flushQueued = false;
  const shared = counters;
  if (lines.length > 0) {
    const size = lineBytes + lines.length;
    if (Atomics.load(shared, COUNTER_STDOUT_CLOSED) !== 0) {
      // stdout is gone: nothing to count, as tcpdump on a closed pipe
    } else if (reserve(shared, size)) {
      output.postMessage({ type: 'output', size, text: lines.join('\n'), lines: lines.length } satisfies RangeMessage);
    } else {
      Atomics.add(shared, COUNTER_LINES_DROPPED, lines.length);
    }
    lines = [];
    lineBytes = 0;
  }
  if (records.length > 0) {
    if (Atomics.load(shared, COUNTER_PCAP_CLOSED) === 0 && reserve(shared, recordBytes)) {
      const bytes = Buffer.concat(records, recordBytes);
      output.postMessage({ type: 'output', size: recordBytes, records: bytes, count: records.length } satisfies RangeMessage);
    } else {
      Atomics.add(shared, COUNTER_RECORDS_DROPPED, records.length);
    }
    records = [];
    recordBytes = 0;
  }
}

function queueFlush(): void {
  if (lineBytes + recordBytes >= BATCH_BYTES) flush();
  else if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

/**
 * Watches this worker's queue from the moment it is bound (openQueueRange calls it before the
 * first packet): its metrics, and its final counters and kernel line when it closes, which the
 * summary needs from every queue, also from one that never got a packet.
 */
export function opened(queue: Queue): void {
  const postMetrics = (): void => output.postMessage({ type: 'metrics', metrics: queue.metrics() } satisfies RangeMessage);
  const metricsTimer = settings.metrics ? setInterval(postMetrics, METRICS_REPORT_MS).unref() : undefined;
  if (settings.metrics) postMetrics();
  // The queue's last counters, once every packet has its verdict, for the summary (after the last output).
  queue.once('close', () => {
    flush();
    if (metricsTimer !== undefined) {
      clearInterval(metricsTimer);
      postMetrics();
    }
    let kernel: KernelQueueStats | undefined;
    try {
      kernel = queue.kernelStats(); // after close: the line read just before the queue unbound
    } catch {
      kernel = undefined;
    }
    output.postMessage({ type: 'final', queue: queue.queueNum, stats: queue.stats(), ...(kernel ? { kernel } : {}) } satisfies RangeMessage);
  });
}

function pcapRecord(packet: Packet): Buffer {
  const payload = packet.payload;
  const length = Math.min(payload.length, PCAP_SNAPLEN);
  const record = Buffer.allocUnsafe(PCAP_RECORD_HEADER_LENGTH + length);
  pcapRecordHeader(packet.timestamp ?? pcapNow(), length, packet.capLen ?? payload.length).copy(record, 0);
  record.set(payload.subarray(0, length), PCAP_RECORD_HEADER_LENGTH);
  return record;
}

/** Serves one packet of this worker's queue (the default export `openQueueRange` calls). */
export default function servePacket(packet: Packet): Promise<void> | undefined {
  if (settings.count !== undefined && Atomics.add(counters, COUNTER_CLAIMED, 1) >= settings.count) {
    return; // beyond --count: the default verdict at close
  }
  if (settings.output !== 'none' && Atomics.load(counters, COUNTER_STDOUT_CLOSED) === 0) {
    const line = packetOutput(packet, settings, jsonVerdict);
    if (line !== undefined) {
      lines.push(line);
      lineBytes += line.length;
    }
  }
  if (settings.pcap && Atomics.load(counters, COUNTER_PCAP_CLOSED) === 0) {
    const record = pcapRecord(packet);
    records.push(record);
    recordBytes += record.length;
  }
  if (lines.length > 0 || records.length > 0) queueFlush();
  return serve(packet);
}

/** Counts a verdict given (for `--count`, and the main thread waiting on it). */
function counted(): void {
  Atomics.add(counters, COUNTER_VERDICTED, 1);
  Atomics.notify(counters, COUNTER_VERDICTED);
}

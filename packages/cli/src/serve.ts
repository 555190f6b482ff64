/**
 * What the main thread and the `--queue-balance` workers share: the verdict settings, the setup
 * each worker's handler module gets (openQueueRange's `handlerData`), the slots of the shared
 * counters, and the messages on the output channel.
 */
import type { KernelQueueStats, Packet, Queue, QueueMetrics, VerdictChanges } from '@nfq/nfqueue';
import type { CliOptions, CliVerdict } from './args.js';
import { type GivenVerdict, formatPacketJson } from './format.js';
import type { PolicyContext } from './policy.js';

/** How each packet is served: its verdict, and what is printed for it. */
export interface ServeSettings {
  /** The verdict for every packet. */
  readonly verdict: CliVerdict;
  /** Packet mark to set with the verdict. */
  readonly mark: number | undefined;
  /** Connection mark to set with the verdict. */
  readonly connmark: number | undefined;
  /** What is printed per packet: the nf-queue.c line, a JSON object, or nothing. */
  readonly output: 'line' | 'json' | 'none';
}

/** The settings for `options`. */
export function serveSettings(options: CliOptions): ServeSettings {
  return {
    verdict: options.verdict,
    mark: options.mark,
    connmark: options.connmark,
    output: options.quiet ? 'none' : options.json ? 'json' : 'line',
  };
}

/**
 * The function that gives each packet the verdict `settings` configure, with what it changes
 * worked out once: it runs for every packet.
 */
export function verdictGiver(settings: ServeSettings): (packet: Packet) => void {
  if (settings.verdict === 'drop') return (packet) => packet.drop();
  if (settings.mark === undefined && settings.connmark === undefined) return (packet) => packet.accept();
  const changes: VerdictChanges = {};
  if (settings.mark !== undefined) changes.mark = settings.mark;
  if (settings.connmark !== undefined) changes.connmark = settings.connmark;
  Object.freeze(changes);
  return (packet) => packet.accept(changes);
}

/**
 * The line printed for `packet`, or undefined when nothing is; a JSON line carries `given`, the
 * verdict the run gives every packet (none with a `--handler` policy, which decides after the line
 * is made).
 */
export function packetOutput(packet: Packet, settings: ServeSettings, given: GivenVerdict | undefined): string | undefined {
  switch (settings.output) {
    case 'line':
      return packet.toString();
    case 'json':
      return formatPacketJson(packet, given);
    default:
      return undefined;
  }
}

/**
 * What a range worker's handler module gets in its `setup` (openQueueRange's `handlerData`):
 * {@link ServeSettings} and what the workers share with the main thread.
 */
export interface WorkerHandlerSetup extends ServeSettings {
  /** The shared counters (an Int32Array of {@link COUNTER_SLOTS} slots over this buffer). */
  readonly counters: SharedArrayBuffer;
  /** The BroadcastChannel on which workers post their output and final counters (only the main thread listens). */
  readonly outputChannel: string;
  /** Stop verdicting after this many packets over all workers (the rest get the default at close). */
  readonly count: number | undefined;
  /** Send pcap records to the main thread (which writes the `--pcap` file). */
  readonly pcap: boolean;
  /** Post the queue's metrics every {@link METRICS_REPORT_MS} (for `--metrics`), from its first packet on. */
  readonly metrics: boolean;
  /** The `--handler` policy each worker loads, or undefined for the fixed verdict. */
  readonly policy: WorkerPolicy | undefined;
}

/** How often a range worker posts its queue's metrics with `--metrics`: 500 ms. */
export const METRICS_REPORT_MS = 500;

/** The `--handler` policy of a range: what each worker loads, and where it is told to reload. */
export interface WorkerPolicy {
  /** The module's `file:` URL. */
  readonly url: string;
  /** The file as the user named it. */
  readonly name: string;
  /** The policy's context, but for the worker's queue. */
  readonly context: Omit<PolicyContext, 'queue' | 'reload'>;
  /** The BroadcastChannel on which the main thread posts {@link PolicyControlMessage}s. */
  readonly controlChannel: string;
}

/** From the main thread to the range's workers: reload the policy (SIGHUP). */
export type PolicyControlMessage = { type: 'reload' };

/**
 * Slots of the shared counters (an Int32Array on a SharedArrayBuffer): packets claimed by a
 * handler (checked against `count`), and packets verdicted by a handler (waited on by the main thread).
 */
export const COUNTER_CLAIMED = 0;
/** See {@link COUNTER_CLAIMED}. */
export const COUNTER_VERDICTED = 1;
/** 1 once standard output failed (a closed pipe...): the workers stop printing. Set by the main thread. */
export const COUNTER_STDOUT_CLOSED = 2;
/** 1 once the pcap file failed or is closing: the workers stop recording. Set by the main thread. */
export const COUNTER_PCAP_CLOSED = 3;
/** Bytes of output posted by the workers and not yet taken by the main thread (bounded by {@link OUTPUT_IN_FLIGHT_BYTES}). */
export const COUNTER_IN_FLIGHT = 4;
/** Lines the workers dropped because the main thread (standard output) was behind. */
export const COUNTER_LINES_DROPPED = 5;
/** Pcap records the workers dropped because the main thread (the pcap file) was behind. */
export const COUNTER_RECORDS_DROPPED = 6;
/** Number of counter slots. */
export const COUNTER_SLOTS = 7;
/** Most bytes of lines and records on their way from the workers to the main thread: 4 MiB. */
export const OUTPUT_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/** Messages on the output channel, from the workers to the main thread. */
export type RangeMessage =
  /**
   * A worker's queue closed: its final counters (every packet has its verdict) and its kernel line
   * read just before it unbound (absent when /proc could not tell); after the last output.
   */
  | { type: 'final'; queue: number; stats: ReturnType<Queue['stats']>; kernel?: KernelQueueStats }
  /** A worker's queue metrics (`--metrics`), every {@link METRICS_REPORT_MS} and as it closes. */
  | { type: 'metrics'; metrics: QueueMetrics }
  /**
   * A worker's lines (`text`: `lines` lines joined by newlines, no last newline) or pcap records
   * (`records`: `count` whole records), `size` bytes counted in {@link COUNTER_IN_FLIGHT}.
   */
  | { type: 'output'; size: number; text?: string; lines?: number; records?: Uint8Array; count?: number }
  /** A worker's answer to a reload: its policy was replaced, or (`error`) it keeps the running one. */
  | { type: 'reloaded'; queue: number; error?: string };

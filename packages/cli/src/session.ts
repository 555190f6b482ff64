/** What a run serves, one queue or a range, as the run loop sees it. */
import type { KernelQueueStats, PrometheusQueue } from '@nfq/nfqueue';
import type { KernelDrops, RunCounters } from './format.js';

/** What is being served: one queue, or a range in worker threads. */
export interface Served {
  /** Counters now (a range's last known ones). */
  counters(): Promise<RunCounters>;
  /** Each served queue's metrics, for `--metrics` (a range's as its workers last reported them). */
  metrics(): Promise<PrometheusQueue[]>;
  /** The kernel's drops for the served queues, when /proc tells. */
  kernelDrops(): number | undefined;
  /** Stops making lines (standard output failed) or pcap records (the file failed, or closes). */
  stopOutput(what: 'stdout' | 'pcap'): void;
  /** Lines and pcap records dropped before they reached the main thread (a range's workers; 0 for one queue). */
  outputDropped(): { lines: number; records: number };
  /** Closes gracefully; resolves with the final counters and the kernel's drops read just before unbinding. */
  close(): Promise<{ counters: RunCounters; kernelDrops: KernelDrops | undefined }>;
}

/** The kernel's drops summed over `rows`; undefined when there is none (no /proc line). */
export function sumKernelDrops(rows: readonly KernelQueueStats[]): KernelDrops | undefined {
  if (rows.length === 0) return undefined;
  return {
    queueFull: rows.reduce((sum, row) => sum + row.queueDropped, 0),
    socketFull: rows.reduce((sum, row) => sum + row.userDropped, 0),
  };
}

/** Runs what was opened until `stop` is called; the parts that differ between one queue and a range. */
export interface Session {
  readonly served: Served;
  /** Drops privileges (on every thread that gives verdicts). */
  dropPrivileges(user: string): Promise<void>;
  /** Reloads the `--handler` policy (SIGHUP) and says how it went on stderr; undefined without a policy. */
  reloadPolicy?(): Promise<void>;
}

/**
 * The kernel's queue table, `/proc/net/netfilter/nfnetlink_queue`: reading it (in a namespace),
 * parsing its lines, and {@link queueStats}, which joins each line with the counters of the
 * queue this process holds there.
 */
import { KernelError, fromNativeError } from './errors.js';
import { type NativeBinding, loadNativeBinding } from './native.js';
import { type QueueDependencies, validateQueueStatsOptions } from './options.js';
import type { Queue } from './queue.js';

/** Every queue this process has open, for {@link queueStats}; each Queue adds itself while open. @internal */
export const openQueues: Set<Queue> = new Set();

/** One queue's line of `/proc/net/netfilter/nfnetlink_queue`. */
export interface KernelQueueStats {
  /** Queue number. */
  queue: number;
  /** Netlink port id of the socket bound to it. */
  portId: number;
  /** Packets waiting for a verdict in the kernel. */
  waiting: number;
  /** Copy mode: 0 none, 1 meta, 2 packet. */
  copyMode: number;
  /** Copy range. */
  copyRange: number;
  /** Packets the kernel dropped because the queue was full. */
  queueDropped: number;
  /** Packets the kernel dropped because the socket was full (the reader too slow: overruns). */
  userDropped: number;
  /** Last packet id handed out. */
  idSequence: number;
}

/** Parses the text of `/proc/net/netfilter/nfnetlink_queue`. */
export function parseKernelQueueStats(text: string): KernelQueueStats[] {
  const rows: KernelQueueStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length < 8 || f.slice(0, 8).some((n) => !Number.isInteger(n))) continue;
    rows.push({
      queue: f[0]!,
      portId: f[1]!,
      waiting: f[2]!,
      copyMode: f[3]!,
      copyRange: f[4]!,
      queueDropped: f[5]!,
      userDropped: f[6]!,
      idSequence: f[7]!,
    });
  }
  return rows;
}

/**
 * The kernel's queue table as seen from `netns`. Only a missing file (nfnetlink_queue not loaded:
 * no queue can exist) means an empty list; a namespace that does not exist or cannot be entered
 * (CAP_SYS_ADMIN), or a table this process may not read, throws a typed error saying so. @internal
 */
export function readKernelQueueStats(binding: NativeBinding, netns: string | undefined): KernelQueueStats[] {
  let text: string;
  try {
    text = binding.readProcNet('netfilter/nfnetlink_queue', netns ?? null);
  } catch (error) {
    const failure = error as { kind?: string; code?: string };
    if (failure.kind === 'Io' && failure.code === 'ENOENT') return []; // nfnetlink_queue not loaded
    if (failure.code === 'EACCES') {
      throw new KernelError(
        'EACCES',
        13,
        '/proc/net/netfilter/nfnetlink_queue is readable by root only: run as root to read the kernel\'s queue table ' +
          "(a process without root still has its own queues' counters in queue.stats())",
        { cause: error },
      );
    }
    throw fromNativeError(error);
  }
  return parseKernelQueueStats(text);
}

/** A queue of the host as `/proc` shows it, with this process's counters when it is one of ours. */
export interface QueueHealth extends KernelQueueStats {
  /** This process's counters, when this process holds the queue. */
  own?: ReturnType<Queue['stats']>;
}

/**
 * Every queue of this host (or of namespace `netns`): the kernel's line for each (waiting
 * packets, kernel drops, user drops, id sequence) and, for the queues this process holds, its
 * own counters (received, verdicts by kind, default verdicts, timeouts, overruns). An empty list
 * when nfnetlink_queue is not loaded; throws `NamespaceError` when `netns` does not exist or
 * cannot be entered (CAP_SYS_ADMIN), `KernelError` when the table cannot be read.
 */
export function queueStats(options: { netns?: string } = {}, dependencies: QueueDependencies = {}): QueueHealth[] {
  validateQueueStatsOptions(options);
  const binding = dependencies.binding ?? loadNativeBinding();
  return readKernelQueueStats(binding, options.netns).map((row) => {
    const own = [...openQueues].find((q) => q.netns === options.netns && q.queueNum === row.queue && q.portId === row.portId);
    return own ? { ...row, own: own.stats() } : row;
  });
}

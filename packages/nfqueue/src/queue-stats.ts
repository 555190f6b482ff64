/**
 * The kernel's queue table, `/proc/net/netfilter/nfnetlink_queue`, as the native core reads and
 * parses it (in a namespace), and {@link queueStats}, which joins each line with the counters of
 * the queue this process holds there.
 */
import { statSync } from 'node:fs';
import { KernelError, fromNativeError } from './errors.js';
import { type NativeBinding, type NativeBoundQueue, loadNativeBinding } from './native.js';
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

/**
 * The queues bound in `netns` as the native core reads them from the kernel's table (with the
 * processes holding them when `owners`). Only a missing file (nfnetlink_queue not loaded: no queue
 * can exist) means an empty list; a namespace that does not exist or cannot be entered
 * (CAP_SYS_ADMIN), or a table this process may not read, throws a typed error saying so. @internal
 */
export function readBoundQueues(binding: NativeBinding, netns: string | undefined, owners = false): NativeBoundQueue[] {
  try {
    return binding.boundQueues(netns ?? null, owners);
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
}

/** The kernel's line of a bound queue, without what the binding adds. @internal */
export function kernelQueueStats({ queue, portId, waiting, copyMode, copyRange, queueDropped, userDropped, idSequence }: NativeBoundQueue): KernelQueueStats {
  return { queue, portId, waiting, copyMode, copyRange, queueDropped, userDropped, idSequence };
}

/** The process holding a queue's socket. */
export interface QueueOwner {
  /** Process id. */
  pid: number;
  /** Its command name (`/proc/PID/comm`), null when unreadable. */
  command: string | null;
}

/** A queue of the host as `/proc` shows it, with this process's counters when it is one of ours. */
export interface QueueHealth extends KernelQueueStats {
  /** This process's counters, when this process holds the queue. */
  own?: ReturnType<Queue['stats']>;
  /** With `owners: true`: the process holding the queue's socket; null when `/proc` does not tell. */
  owner?: QueueOwner | null;
}

/**
 * The device and inode of network namespace `netns`, however it is spelled (a name from
 * `ip netns add`, which nfq-core looks for in /var/run/netns, or a path), or of this thread's
 * when undefined; undefined when it cannot be read.
 */
function namespaceId(netns: string | undefined): string | undefined {
  const path = netns === undefined ? '/proc/thread-self/ns/net' : netns.includes('/') ? netns : `/var/run/netns/${netns}`;
  try {
    const { dev, ino } = statSync(path);
    return `${dev}:${ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Every queue of this host (or of namespace `netns`): the kernel's line for each (waiting
 * packets, kernel drops, user drops, id sequence) and, for the queues this process holds, its
 * own counters (received, verdicts by kind, default verdicts, timeouts, overruns); with
 * `owners: true`, the process holding each (found through `/proc/PID/fd`). Sorted by queue
 * number. An empty list when nfnetlink_queue is not loaded; throws `NamespaceError` when `netns`
 * does not exist or cannot be entered (CAP_SYS_ADMIN), `KernelError` when the table cannot be read.
 */
export function queueStats(options: { netns?: string; owners?: boolean } = {}, dependencies: QueueDependencies = {}): QueueHealth[] {
  validateQueueStatsOptions(options);
  const binding = dependencies.binding ?? loadNativeBinding();
  const asked = namespaceId(options.netns);
  const ours = [...openQueues].filter((q) => (asked === undefined ? q.netns === options.netns : namespaceId(q.netns) === asked));
  return readBoundQueues(binding, options.netns, options.owners === true).map((bound) => {
    const row: QueueHealth = kernelQueueStats(bound);
    if (options.owners === true) row.owner = bound.ownerPid == null ? null : { pid: bound.ownerPid, command: bound.ownerCommand ?? null };
    const own = ours.find((q) => q.queueNum === row.queue && q.portId === row.portId);
    if (own) row.own = own.stats();
    return row;
  });
}

import type { KernelQueueStats } from './queue-stats.js';
import { createRequire } from 'node:module';

/** Options of the native `NativeQueue.open`: how to bind and configure one queue. */
export interface NativeQueueOptions {
  /** Queue number to bind (0-65535), as in `iptables ... -j NFQUEUE --queue-num N`. */
  queue: number;
  /**
   * What the kernel copies to user space: metadata only, or metadata and payload (default).
   * (The kernel's third mode, none, makes it drop every matched packet: refused.)
   */
  copyMode?: 'meta' | 'packet';
  /** Most payload bytes copied per packet (copy mode 'packet'). */
  copyRange?: number;
  /** Most packets waiting in the kernel queue. */
  maxLen?: number;
  /** Accept packets instead of dropping them when the queue is full (NFQA_CFG_F_FAIL_OPEN). */
  failOpen?: boolean;
  /** Send conntrack information with each packet (NFQA_CFG_F_CONNTRACK). */
  conntrack?: boolean;
  /** Deliver GSO packets whole (NFQA_CFG_F_GSO). */
  gso?: boolean;
  /** Send the owning socket's uid and gid (NFQA_CFG_F_UID_GID). */
  uidGid?: boolean;
  /** Send the security context (NFQA_CFG_F_SECCTX). */
  secctx?: boolean;
  /** Socket receive buffer size in bytes (SO_RCVBUF(FORCE)). */
  receiveBufferSize?: number;
  /** Do not report ENOBUFS when the socket buffer overruns (NETLINK_NO_ENOBUFS). */
  noEnobufs?: boolean;
  /** Most messages received per recvmmsg call. */
  batchSize?: number;
  /** Network namespace to open the socket in: a name under /var/run/netns, or a path. */
  netns?: string;
  /**
   * Receive on a thread of its own instead of the JavaScript thread (default false). The default
   * is faster (one thread, like a batched C consumer: no hand-over between threads); a reader
   * thread keeps draining the socket while a synchronous handler runs long. On Bun and Deno,
   * whose N-API cannot drive the event-loop receiver, the default is true and false is refused.
   */
  readerThread?: boolean;
  /**
   * CPUs the receiving thread may run on (e.g. away from the cores serving the NIC's interrupts):
   * the JavaScript thread that opens the queue, or the reader thread with `readerThread`.
   */
  readerCpus?: number[];
  /** Nice value of the receiving thread (as for `readerCpus`), -20..19 (below 0 needs CAP_SYS_NICE). */
  readerNice?: number;
}

/** What the native side counted since the queue was opened. */
export interface NativeQueueStats {
  /** Receive overruns (ENOBUFS): packets the kernel dropped or accepted without asking. */
  overruns: number;
  /** Batches handed to JavaScript. */
  batches: number;
  /** Netlink messages received. */
  messages: number;
  /** Messages cut by the receiver because a receive buffer was too small (MSG_TRUNC). */
  cutByReceiver: number;
  /** Datagrams from another sender than the kernel (never sent by it), skipped. */
  foreign?: number;
  /** Verdict messages sent. */
  verdictsSent: number;
  /** sendto calls made for verdicts. */
  verdictSends: number;
}

/** One bound queue on the native side (the napi `NativeQueue` class). */
export interface NativeQueue {
  /**
   * Starts receiving; `onBatch` is called on the JavaScript thread once per batch: with netlink
   * messages back to back in `batch` (a reader thread), or with a receive bank, its index and the
   * control array that says where its datagrams lie (the event-loop reader; see the binding's
   * event_loop.rs). `batch` may be null or undefined: a batch already returned by
   * `stopReceiving`, or an overrun with nothing received.
   */
  start(onBatch: (err: Error | null, batch?: Uint8Array | null, bank?: number, control?: Int32Array) => void): void;
  /** Sends complete, concatenated VERDICT / VERDICT_BATCH messages in one sendmsg. */
  sendVerdicts(messages: Uint8Array, length?: number): void;
  /** Counters since the queue was opened. */
  stats(): NativeQueueStats;
  /** `stats().overruns`, read without making an object. */
  readonly overrunCount: number;
  /**
   * Stops receiving (and joins the reader thread, if any); no batch is handed to onBatch after it returns. Returns
   * the batches received but not yet handed over: their packets still need verdicts.
   */
  stopReceiving(): Buffer[] | void;
  /**
   * Stops receiving, gives what still waits in the kernel the verdict chosen by stopQueueing
   * (accept when not called), unbinds and closes the socket; idempotent. Returns batches as stopReceiving does.
   */
  close(): Buffer[] | void;
  /** Stops reading from the socket (backpressure); packets wait in the kernel queue. */
  pause(): void;
  /** Reads again after {@link pause}. */
  resume(): void;
  /** After stopReceiving: what the socket still holds, as one batch (up to 1 MB), or null when empty. */
  receivePending(): Buffer | null;
  /**
   * Stops the kernel queueing to this socket (first step of close): with `accept` new packets
   * pass (fail-open, max length 0), otherwise the kernel drops them. Stops a reader thread first.
   */
  stopQueueing?(accept: boolean): void;
  /** Packets the kernel shows waiting for this socket (`/proc/net/netfilter/nfnetlink_queue`); null when unreadable. */
  kernelWaiting?(): number | null;
  /** The network interfaces of the queue's namespace. */
  interfaces(): Array<{ index: number; name: string }>;
  /** The bound queue number. */
  readonly queueNum: number;
  /** The socket's netlink port id. */
  readonly portId: number;
}

/** The native module: what `native/index.cjs` exports. */
export interface NativeBinding {
  /** The napi class; only its static `open` is used. */
  readonly NativeQueue: {
    /** Opens a socket, binds and configures the queue; throws a {@link NativeQueueError}. */
    open(options: NativeQueueOptions): NativeQueue;
  };
  /** Switches to `user`, keeping only CAP_NET_ADMIN on the calling thread. */
  dropPrivileges?(user: string): { uid: number; gid: number };
  /** Over several threads, step 1 (on each): keep CAP_NET_ADMIN through the coming switch. */
  dropPrivilegesPrepareThread?(): void;
  /** Step 2 (once): switch the process to `user`. */
  dropPrivilegesSwitchUser?(user: string): { uid: number; gid: number };
  /** Step 3 (on each): CAP_NET_ADMIN as the thread's only capability. */
  dropPrivilegesFinishThread?(): void;
  /**
   * The queues bound in namespace `netns` (this one when absent), by queue number, from
   * `/proc/net/netfilter/nfnetlink_queue`; with `owners`, each with the process holding its socket.
   */
  boundQueues(netns?: string | null, owners?: boolean): NativeBoundQueue[];
}

/** A bound queue as the binding reads it from `/proc` (see `boundQueues`). */
export interface NativeBoundQueue extends KernelQueueStats {
  /** The process holding the socket (asked for with `owners`, and found). */
  ownerPid?: number | null;
  /** Its name (`/proc/PID/comm`). */
  ownerCommand?: string | null;
}

/** Why the native side refused, as `err.kind`. */
export type NativeErrorKind =
  | 'PermissionDenied'
  | 'AlreadyBound'
  | 'Unsupported'
  | 'InvalidArgument'
  | 'UserNotFound'
  | 'NamespaceNotFound'
  | 'NamespacePermissionDenied'
  | 'Closed'
  | 'Io'
  | (string & {});

/** An error thrown by the native side: `code` is the errno name (e.g. 'EPERM'), `kind` the cause. */
export interface NativeQueueError extends Error {
  /** Errno name, e.g. 'EPERM', 'EOPNOTSUPP'. */
  code?: string;
  /** What went wrong, e.g. 'AlreadyBound'. */
  kind?: NativeErrorKind;
}

let loadedBinding: NativeBinding | undefined;

/** The platform package that carries this machine's binary, e.g. `@nfq/nfqueue-linux-x64-gnu`. */
export function platformPackageName(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const libc = process.platform === 'linux' ? (report?.header?.glibcVersionRuntime ? '-gnu' : '-musl') : '';
  return `@nfq/nfqueue-${process.platform}-${process.arch}${libc}`;
}

/**
 * Loads the napi binding (once): the binary built into `native/` in a checkout, or the one of the
 * platform package npm installed. Throws an error saying what to install or build when neither
 * is there.
 */
export function loadNativeBinding(): NativeBinding {
  if (loadedBinding) return loadedBinding;
  const require = createRequire(import.meta.url);
  try {
    loadedBinding = require('../native/index.cjs') as NativeBinding;
  } catch (cause) {
    const wanted = platformPackageName();
    const advice =
      process.platform === 'linux'
        ? `it comes in ${wanted}, which npm installs as an optional dependency of @nfq/nfqueue: ` +
          `reinstall if it was skipped (npm install ${wanted}); prebuilt packages exist for linux-x64-gnu. ` +
          'Elsewhere, build it from a checkout with `npm run build` (needs the Rust toolchain)'
        : `NFQUEUE is a Linux facility: there is no binding for ${process.platform}`;
    throw new Error(`@nfq/nfqueue: the native binding could not be loaded: ${advice}`, { cause });
  }
  return loadedBinding;
}

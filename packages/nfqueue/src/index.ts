/**
 * `@nfq/nfqueue`: receive the packets that iptables queues with `-j NFQUEUE` and give them
 * verdicts, batched both ways over a Rust core.
 *
 * ```ts
 * import { openQueue } from '@nfq/nfqueue';
 * const queue = await openQueue({ queue: 0, copyMode: 'packet' });
 * queue.on('packet', (packet) => packet.accept());
 * ```
 *
 * @packageDocumentation
 */
import './platform.js'; // first: a clear error on a platform without NFQUEUE
export { openQueue, Queue, Verdict, type QueueEvents, type QueueCounters } from './queue.js';
export { formatPrometheus, HANDLER_DURATION_BUCKETS, type QueueMetrics, type DurationHistogram, type PrometheusQueue } from './metrics.js';
export { queueStats, type QueueHealth, type QueueOwner, type KernelQueueStats } from './queue-stats.js';
export { validateQueueOptions, type QueueOptions, type QueueDependencies } from './options.js';
export { OPTION_LIMITS as QUEUE_OPTION_LIMITS, type OptionLimit } from './option-limits.js';
export { dropPrivileges } from './privileges.js';
export { Packet, type VerdictChanges, type RequeueOptions, type PacketXmlOptions } from './packet.js';
export {
  NfqueueError,
  InvalidOptionError,
  PermissionDeniedError,
  QueueAlreadyBoundError,
  UnsupportedError,
  KernelError,
  VerdictAlreadyGivenError,
  InvalidVerdictError,
  QueueClosedError,
  PacketHandlerError,
  VerdictRejectedError,
  UnknownUserError,
  NamespaceError,
  type VerdictSource,
  type VerdictRejectionOutcome,
} from './errors.js';
export {
  loadNativeBinding,
  type NativeBinding,
  type NativeQueue,
  type NativeQueueOptions,
  type NativeBoundQueue,
  type NativeQueueStats,
  type NativeQueueError,
  type NativeErrorKind,
} from './native.js';
export * from './range.js';
export * from './headers/index.js';

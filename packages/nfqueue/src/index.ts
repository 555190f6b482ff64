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
export { openQueue, Queue, Verdict, type QueueOptions, type QueueDependencies, type QueueEvents } from './queue.js';
export { Packet, type VerdictChanges, type RequeueOptions } from './packet.js';
export { VerdictAlreadyGivenError, QueueClosedError, VerdictRejectedError } from './errors.js';
export {
  loadNativeBinding,
  type NativeBinding,
  type NativeQueue,
  type NativeQueueOptions,
  type NativeQueueStats,
  type NativeQueueError,
  type NativeErrorKind,
} from './native.js';
export * from './headers/index.js';

/** The errors of {@link openQueueRange} and its workers. */
import { NfqueueError } from './errors.js';

/** Why a range or one of its workers failed. */
export type QueueRangeErrorKind =
  /** The handler module could not be imported, or has no default export function. */
  | 'HandlerModule'
  /** A worker could not bind its queue (see `code`, e.g. 'EPERM'). */
  | 'Open'
  /** A worker reported an error while serving (a handler failed, a verdict was refused). */
  | 'Worker'
  /** A worker died and may not be restarted: the range closes. */
  | 'WorkerLost'
  /** {@link QueueRange.dropPrivileges} failed on a worker's thread. */
  | 'Privileges';

/**
 * An error of a queue range, or one reported by a worker. `code` is the worker's error code (an
 * errno name such as 'EPERM', or an `ERR_*` name); `name` keeps the worker-side class name.
 */
export class QueueRangeError extends NfqueueError {
  /** The queue whose worker failed. */
  readonly queue: number;
  /** What failed. */
  readonly kind: QueueRangeErrorKind;

  /** Creates the error. */
  constructor(kind: QueueRangeErrorKind, queue: number, code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.kind = kind;
    this.queue = queue;
  }
}

/**
 * `openQueueRange`: the Node.js side of `iptables ... -j NFQUEUE --queue-balance FROM:TO`, one
 * queue per worker thread, so that every core gives verdicts.
 *
 * This module checks the options and starts the range; the supervisor is {@link QueueRange}
 * (queue-range.ts), the worker `range-worker.ts`, their messages range-protocol.ts.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from './errors.js';
import { type QueueOptions, checkQueueNumber, validateQueueOptions } from './options.js';
import { QueueRange } from './queue-range.js';

export { mergeStats } from './merge-stats.js';
export { QueueRange, type QueueRangeEvents, type QueueRangeQueueStats, type QueueRangeStats, type WorkerExitInfo } from './queue-range.js';
export { QueueRangeError, type QueueRangeErrorKind } from './range-errors.js';
export type { ParentMessage, PrivilegeStep, WorkerErrorDescription, WorkerMessage, WorkerSetup } from './range-protocol.js';

/** Options of {@link openQueueRange}: the options of {@link openQueue} (except `queue`) plus the range's own. */
export interface QueueRangeOptions extends Omit<QueueOptions, 'queue' | 'signal'> {
  /** First queue number of the range (0-65535), as in `--queue-balance FROM:TO`. */
  from: number;
  /** Last queue number of the range (inclusive, 0-65535). */
  to: number;
  /**
   * The handler module, imported by every worker: a `URL` or a URL string (`file:`), or a file
   * path (relative paths are resolved against the current directory). Its default export,
   * `(packet, queue) => void | Promise<void>`, gives each packet of the worker's queue its verdict;
   * a handler that throws or rejects gives the packet `defaultVerdict`, as with {@link openQueue}.
   */
  handler: string | URL;
  /**
   * A value for the handler module, given to every worker (a structured clone; a
   * SharedArrayBuffer in it is shared by all of them): when the module exports a function
   * `setup`, each worker calls it with this value and `{ queue }` (the worker's queue number),
   * `setup(handlerData, { queue })`, and awaits it, after importing the module and
   * before binding its queue (a restarted worker calls it again). A `setup` that throws or rejects
   * fails the worker as a module that cannot be loaded does (`kind` `'HandlerModule'`).
   *
   * When the module exports a function `opened`, each worker calls it with its `Queue` once
   * the queue is bound and before the first packet, `opened(queue)` (to watch the queue's
   * events, read its metrics, or do something when it closes). One that throws fails the
   * worker as a `setup` that throws does; a rejection is reported on the range's 'error'.
   */
  handlerData?: unknown;
  /** Closes every queue (gracefully, as `close()`) when aborted. Stays in this thread: workers never see it. */
  signal?: AbortSignal;
  /** Re-open the queue of a worker that died (default true); false makes the whole range fail at the first death. */
  restart?: boolean;
  /** Most restarts per queue, over the range's life, before the range fails (default 5). */
  maxRestarts?: number;
}

/** The options of {@link openQueueRange} that are not options of openQueue. */
const RANGE_OPTIONS: readonly string[] = ['from', 'to', 'handler', 'handlerData', 'signal', 'restart', 'maxRestarts'];

/** The handler as a URL string the worker can import. */
function handlerHref(handler: unknown): string {
  if (handler instanceof URL) return handler.href;
  if (typeof handler !== 'string' || handler.length === 0) {
    throw new InvalidOptionError('handler', `must be a module path or URL whose default export handles packets, got ${typeof handler}`);
  }
  // A URL string ('file:///...', 'data:...'), but not a path; one-letter schemes are not used on Linux.
  return /^[a-z][a-z0-9+.-]+:/i.test(handler) ? handler : pathToFileURL(resolvePath(handler)).href;
}

/**
 * Binds queues `from`..`to`, one per worker thread; each worker imports the `handler` module and
 * gives every packet of its queue a verdict with the module's default export (after calling its
 * `setup` export, if any, with `handlerData`). Resolves once every
 * queue is bound. Rejects (after stopping every worker it started) when an option is wrong
 * ({@link InvalidOptionError}, naming it), the handler module cannot be loaded or has
 * no default export, or a queue cannot be bound ({@link QueueRangeError}, `kind` `'HandlerModule'`
 * or `'Open'`, `code` e.g. 'EPERM').
 *
 * ```ts
 * // iptables -A INPUT -p tcp --dport 443 -j NFQUEUE --queue-balance 0:3 --queue-bypass
 * // handler.js: let mark; export function setup(data) { mark = data.mark; }
 * //             export default (packet) => packet.accept({ mark });
 * const range = await openQueueRange({ from: 0, to: 3, handler: new URL('./handler.js', import.meta.url), handlerData: { mark: 7 } });
 * range.on('error', (error) => console.error(error));
 * console.log((await range.stats()).received);
 * await range.close();
 * ```
 */
export async function openQueueRange(options: QueueRangeOptions): Promise<QueueRange> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'must be an object such as { from: 0, to: 3, handler: "./handler.js" }');
  }
  // Own properties only: a name of Object.prototype is no option.
  const own = (name: string): unknown => (Object.hasOwn(options, name) ? (options as unknown as Record<string, unknown>)[name] : undefined);
  const [from, to, handler, handlerData, signal, restart, maxRestarts] = RANGE_OPTIONS.map(own);
  const queueOptions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (!RANGE_OPTIONS.includes(name)) Object.defineProperty(queueOptions, name, { value, enumerable: true, writable: true, configurable: true });
  }
  checkQueueNumber('from', from);
  checkQueueNumber('to', to);
  if ((from as number) > (to as number)) throw new InvalidOptionError('from', `the range starts after it ends (from ${from} > to ${to})`);
  if (maxRestarts !== undefined && (typeof maxRestarts !== 'number' || !Number.isInteger(maxRestarts) || maxRestarts < 0)) {
    throw new InvalidOptionError('maxRestarts', `must be an integer from 0 up, got ${String(maxRestarts)}`);
  }
  if (restart !== undefined && typeof restart !== 'boolean') {
    throw new InvalidOptionError('restart', `must be true or false, got ${String(restart)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal', 'must be an AbortSignal');
  }
  if (Object.hasOwn(queueOptions, 'queue')) {
    throw new InvalidOptionError('queue', 'is not an option of openQueueRange: give the queues as from and to');
  }
  // The queue options travel to the workers by structured clone: functions and signals cannot.
  for (const [name, value] of Object.entries(queueOptions)) {
    if (typeof value === 'function' || typeof value === 'symbol' || (value as unknown) instanceof AbortSignal) {
      throw new InvalidOptionError(name, `cannot be passed to a worker thread (a ${typeof value}); only plain values can`);
    }
  }
  validateQueueOptions({ ...queueOptions, queue: from }, 'openQueueRange');
  try {
    structuredClone(queueOptions);
  } catch (cause) {
    throw new InvalidOptionError('options', `the queue options cannot be passed to worker threads: ${(cause as Error).message}`);
  }
  try {
    structuredClone(handlerData);
  } catch (cause) {
    throw new InvalidOptionError('handlerData', `cannot be passed to worker threads: ${(cause as Error).message}`);
  }
  const href = handlerHref(handler);
  signal?.throwIfAborted();
  const rangeOptions = { from, to, handler, handlerData, signal, restart, maxRestarts } as QueueRangeOptions;
  const range = new QueueRange(rangeOptions, href, queueOptions as Omit<QueueOptions, 'queue'>);
  await range.start();
  return range;
}

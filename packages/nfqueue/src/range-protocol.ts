/**
 * The messages between {@link QueueRange} and its worker threads (`range-worker.ts`), and what
 * each worker is started with. Everything here crosses threads by structured clone.
 */
import type { QueueOptions } from './options.js';
import type { Queue } from './queue.js';

/** An error as it crosses from a worker (structured clone keeps no class). @internal */
export interface WorkerErrorDescription {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

/** Messages from a range worker. @internal */
export type WorkerMessage =
  | { type: 'ready'; stats: ReturnType<Queue['stats']> }
  | { type: 'stats'; requestId: number; stats: ReturnType<Queue['stats']> }
  /** Its queue closed gracefully: the counters once every packet had its verdict. */
  | { type: 'closed'; stats: ReturnType<Queue['stats']> }
  | { type: 'privileges'; requestId: number; error?: WorkerErrorDescription }
  | { type: 'error'; phase: 'load' | 'open' | 'run'; error: WorkerErrorDescription };

/** A step of {@link QueueRange.dropPrivileges} that each worker takes on its own thread. @internal */
export type PrivilegeStep = 'prepare' | 'finish';

/** Messages to a range worker. @internal */
export type ParentMessage =
  | { type: 'stats'; requestId: number }
  | { type: 'privileges'; requestId: number; step: PrivilegeStep }
  | { type: 'close' };

/** What a range worker is started with (its `workerData`). @internal */
export interface WorkerSetup {
  /** The queue options, `queue` set, no signal. */
  options: QueueOptions;
  /** The handler module's URL (href). */
  handler: string;
  /** The range's `handlerData`, for the handler module's `setup` export. */
  handlerData: unknown;
}

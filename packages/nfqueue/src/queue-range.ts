/**
 * {@link QueueRange}, the supervisor of a range of queues: one worker thread per queue
 * (`range-worker.ts`, run from `dist/`), started, asked for counters, restarted with backoff when
 * one dies, failed loudly when it may not be, and closed gracefully.
 */
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InvalidOptionError, fromNativeError } from './errors.js';
import { mergeStats } from './merge-stats.js';
import { type NativeBinding, loadNativeBinding } from './native.js';
import type { QueueOptions } from './options.js';
import { checkUserName } from './privileges.js';
import type { Queue } from './queue.js';
import type { QueueRangeOptions } from './range.js';
import { QueueRangeError } from './range-errors.js';
import type { ParentMessage, PrivilegeStep, WorkerMessage, WorkerSetup } from './range-protocol.js';

/** What happened to a worker that died, in a {@link QueueRangeEvents.workerExit} event. */
export interface WorkerExitInfo {
  /** The worker's queue. */
  queue: number;
  /** The worker's exit code (1 after an uncaught exception or `process.exit(1)`). */
  code: number;
  /** The uncaught exception (or the failure to re-bind), when there was one. */
  error?: Error;
  /** Whether the queue is being re-opened in a new worker. */
  restarting: boolean;
  /** Restarts of this queue so far, this one included when `restarting`. */
  restarts: number;
}

/** Events of a {@link QueueRange}. */
export interface QueueRangeEvents {
  /** A worker died after binding its queue (or a restarted one failed to bind). */
  workerExit: [info: WorkerExitInfo];
  /** A restarted worker has bound its queue again and serves it. */
  restarted: [info: { queue: number; restarts: number }];
  /**
   * A worker reported an error (a handler failed, the kernel refused a verdict), or, with `kind`
   * `'WorkerLost'`, the range failed: a worker died and may not be restarted; the range closes.
   * Without an 'error' listener the error is thrown, as EventEmitter does.
   */
  error: [error: QueueRangeError];
  /** Every worker has exited and every queue is unbound. */
  close: [];
}

/** Counters of one queue of a range: those of its worker's {@link Queue.stats}, plus the range's restarts. */
export type QueueRangeQueueStats = ReturnType<Queue['stats']> & {
  /** Times this queue's worker was restarted. */
  restarts: number;
};

/**
 * Counters of a whole range: each counter added up over the queues (see {@link mergeStats}), and
 * `perQueue`, each queue's own. A queue's counters count since its current worker bound it; while
 * the queue is being restarted, they are the last ones its dead worker reported.
 */
export type QueueRangeStats = QueueRangeQueueStats & {
  /** Each queue's counters, by queue number. */
  perQueue: Map<number, QueueRangeQueueStats>;
};

/** One queue of the range and its current worker. */
interface Slot {
  readonly queue: number;
  restarts: number;
  worker: Worker | undefined;
  /** Resolves when the current worker has exited. */
  exited: Promise<void>;
  ready: boolean;
  /** Exit code of the last worker that exited. */
  exitCode: number;
  lastStats: ReturnType<Queue['stats']> | undefined;
  /** The restart's backoff timer. */
  timer: NodeJS.Timeout | undefined;
  /** Requests waiting for the worker's answer, by id; answered with undefined when it exits. */
  readonly requests: Map<number, (answer: WorkerMessage | undefined) => void>;
}

const workerUrl = new URL('./range-worker.js', import.meta.url);
const DEFAULT_MAX_RESTARTS = 5;
const RESTART_BACKOFF_MS = 100;
const STATS_TIMEOUT_MS = 2_000;
/** How long a worker may take for one step of dropPrivileges (it answers between batches). */
const PRIVILEGES_TIMEOUT_MS = 5_000;
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * Queues `from`..`to`, each bound and served by its own worker thread running the handler
 * module. Made by {@link openQueueRange}.
 *
 * A worker that dies after binding (an uncaught exception, `process.exit()` in the handler) is
 * reported with `workerExit` and its queue re-opened in a new worker after `100 ms * attempt`;
 * packets it held get its `defaultVerdict` as it exits, packets queued meanwhile are dropped by
 * the kernel (no listener), unless the rule has `--queue-bypass`. When `restart` is false or the
 * queue used up `maxRestarts`, the range emits `error` (kind `'WorkerLost'`) and closes: a range
 * never goes on with a silently dead queue.
 */
export class QueueRange extends EventEmitter<QueueRangeEvents> {
  /** The queue numbers served, `from` to `to`. */
  readonly queues: readonly number[];
  readonly #setup: Omit<WorkerSetup, 'options'> & { options: Omit<QueueOptions, 'queue'> };
  readonly #restart: boolean;
  readonly #maxRestarts: number;
  readonly #slots: Map<number, Slot>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => void this.close();
  #nextRequest = 1;
  #closeRequested = false;
  #closed: Promise<void> | undefined;

  /** Checks nothing and starts nothing: use {@link openQueueRange}. @internal */
  constructor(options: QueueRangeOptions, handler: string, queueOptions: Omit<QueueOptions, 'queue'>) {
    super();
    this.queues = Array.from({ length: options.to - options.from + 1 }, (_, i) => options.from + i);
    this.#setup = { handler, handlerData: options.handlerData, options: queueOptions };
    this.#restart = options.restart !== false;
    this.#maxRestarts = options.maxRestarts ?? DEFAULT_MAX_RESTARTS;
    this.#signal = options.signal;
    this.#slots = new Map(
      this.queues.map((queue) => [
        queue,
        { queue, restarts: 0, worker: undefined, exited: Promise.resolve(), ready: false, exitCode: 0, lastStats: undefined, timer: undefined, requests: new Map() },
      ]),
    );
  }

  /** Workers running with their queue bound now (fewer than `queues.length` while one restarts). */
  get workerCount(): number {
    let count = 0;
    for (const slot of this.#slots.values()) if (slot.ready) count++;
    return count;
  }

  /** True once {@link close} was called, or the range failed. */
  get closed(): boolean {
    return this.#closeRequested;
  }

  /**
   * Starts one worker per queue; resolves once every queue is bound. The first failure stops
   * every worker at once (one whose `setup` has not settled is terminated after a grace period)
   * and rejects with that failure; an abort of the signal rejects with its reason. A `setup` that
   * never settles, and never fails, keeps this waiting: give a signal to bound the wait. @internal
   */
  async start(): Promise<void> {
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    const starts = [...this.#slots.values()].map((slot) => this.#startWorker(slot));
    try {
      await Promise.all(starts);
    } catch (error) {
      for (const start of starts) start.catch(() => {}); // the others end because of the stop
      await this.close();
      throw this.#signal?.aborted ? this.#signal.reason : error;
    }
    if (this.#signal?.aborted) {
      await this.close();
      throw this.#signal.reason;
    }
  }

  /** Starts a worker for `slot`; resolves once it bound its queue, rejects after it exited without. */
  #startWorker(slot: Slot): Promise<void> {
    const { handler, handlerData, options } = this.#setup;
    const setup: WorkerSetup = { handler, handlerData, options: { ...options, queue: slot.queue } };
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { workerData: setup });
    } catch (error) {
      return Promise.reject(error as Error);
    }
    slot.worker = worker;
    slot.ready = false;
    let exit!: () => void;
    slot.exited = new Promise((resolve) => (exit = resolve));
    return new Promise<void>((resolve, reject) => {
      let failure: Error | undefined;
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            slot.ready = true;
            slot.lastStats = message.stats;
            resolve();
            break;
          case 'stats':
            slot.lastStats = message.stats;
            slot.requests.get(message.requestId)?.(message);
            break;
          case 'closed':
            slot.lastStats = message.stats; // what stats() gives once the worker is gone
            break;
          case 'privileges':
            slot.requests.get(message.requestId)?.(message);
            break;
          case 'error': {
            const error = this.#fromWorker(slot.queue, message);
            if (slot.ready) this.#report(error);
            else failure ??= error;
            break;
          }
        }
      });
      // An uncaught exception: 'exit' follows, and decides.
      worker.on('error', (error) => (failure ??= slot.ready ? error : workerLoadError(slot.queue, error)));
      worker.on('exit', (code) => {
        for (const answer of slot.requests.values()) answer(undefined);
        slot.requests.clear();
        const wasReady = slot.ready;
        slot.ready = false;
        slot.exitCode = code;
        exit();
        if (!wasReady) {
          reject(
            failure ??
              new QueueRangeError('Open', slot.queue, 'ERR_WORKER_EXITED', `the worker of queue ${slot.queue} exited (code ${code}) before binding it`),
          );
        } else if (!this.#closeRequested) {
          this.#workerDied(slot, code, failure);
        }
      });
    });
  }

  #fromWorker(queue: number, message: Extract<WorkerMessage, { type: 'error' }>): QueueRangeError {
    const { error, phase } = message;
    const code = error.code ?? 'ERR_QUEUE_RANGE';
    let result: QueueRangeError;
    if (phase === 'load') {
      result = new QueueRangeError('HandlerModule', queue, code, `openQueueRange: the handler module ${this.#setup.handler} ${error.message}`);
    } else if (phase === 'open') {
      result = new QueueRangeError('Open', queue, code, `openQueueRange: queue ${queue} could not be opened: ${error.message}`);
    } else {
      result = new QueueRangeError('Worker', queue, code, `queue ${queue}: ${error.message}`);
    }
    if (error.stack) result.stack = `${result.name}: ${result.message}\n    (in the worker of queue ${queue}) ${error.stack}`;
    return result;
  }

  /** A worker died (after binding, or while restarting): restart its queue, or fail the range. */
  #workerDied(slot: Slot, code: number, error: Error | undefined): void {
    const restarting = this.#restart && slot.restarts < this.#maxRestarts;
    if (restarting) slot.restarts++;
    this.emit('workerExit', { queue: slot.queue, code, error, restarting, restarts: slot.restarts });
    if (!restarting) {
      const why = this.#restart ? `its ${this.#maxRestarts} restarts are used up` : 'restart is false';
      const cause = error ? `: ${error.message}` : '';
      this.#report(
        new QueueRangeError(
          'WorkerLost',
          slot.queue,
          'ERR_QUEUE_RANGE_WORKER_LOST',
          `the worker of queue ${slot.queue} exited (code ${code})${cause}; ${why}, so the whole range closes`,
          { cause: error },
        ),
      );
      void this.close();
      return;
    }
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.#closeRequested) return;
      this.#startWorker(slot).then(
        () => {
          if (!this.#closeRequested) this.emit('restarted', { queue: slot.queue, restarts: slot.restarts });
        },
        (failure: Error) => {
          if (!this.#closeRequested) this.#workerDied(slot, slot.exitCode, failure);
        },
      );
    }, RESTART_BACKOFF_MS * slot.restarts);
  }

  #report(error: QueueRangeError): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  /** Every queue's counters, added up, and `perQueue`, each queue's own; after close, the final ones (every packet verdicted). */
  async stats(): Promise<QueueRangeStats> {
    const answers = await Promise.all(
      this.queues.map(async (queue): Promise<[number, QueueRangeQueueStats] | undefined> => {
        const slot = this.#slots.get(queue)!;
        const stats = slot.ready && slot.worker ? await this.#requestStats(slot, slot.worker) : undefined;
        const known = stats ?? slot.lastStats;
        return known && [queue, { ...known, restarts: slot.restarts }];
      }),
    );
    const perQueue = new Map(answers.filter((entry) => entry !== undefined));
    return { ...(mergeStats([...perQueue.values()]) as QueueRangeQueueStats), perQueue };
  }

  async #requestStats(slot: Slot, worker: Worker): Promise<ReturnType<Queue['stats']> | undefined> {
    const answer = await this.#request(slot, worker, (requestId) => ({ type: 'stats', requestId }), STATS_TIMEOUT_MS);
    return answer?.type === 'stats' ? answer.stats : undefined;
  }

  /** Sends the message `make` builds to `worker`; resolves with its answer, or undefined after `timeoutMs` or its exit. */
  #request(slot: Slot, worker: Worker, make: (requestId: number) => ParentMessage, timeoutMs: number): Promise<WorkerMessage | undefined> {
    const requestId = this.#nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(undefined), timeoutMs);
      const answer = (message: WorkerMessage | undefined): void => {
        clearTimeout(timer);
        slot.requests.delete(requestId);
        resolve(message);
      };
      slot.requests.set(requestId, answer);
      worker.postMessage(make(requestId));
    });
  }

  /**
   * Drops root for the whole range once its queues are bound, as {@link dropPrivileges} does for
   * one queue: the process switches to `user` and every worker thread, and this one (which starts
   * the workers that re-open a queue), keeps CAP_NET_ADMIN and nothing else. Each worker first
   * prepares its own thread to keep the capability through the switch, then this thread switches,
   * then each worker keeps only CAP_NET_ADMIN. Rejects with the first failure (the process may
   * then be half switched: close the range and exit).
   */
  async dropPrivileges(user: string, dependencies: { binding?: NativeBinding } = {}): Promise<{ uid: number; gid: number }> {
    checkUserName(user);
    const binding = dependencies.binding ?? loadNativeBinding();
    if (!binding.dropPrivilegesPrepareThread || !binding.dropPrivilegesSwitchUser || !binding.dropPrivilegesFinishThread) {
      throw new InvalidOptionError('user', 'this build of the binding cannot drop privileges over several threads');
    }
    const live = [...this.#slots.values()].filter((slot) => slot.worker !== undefined && slot.ready);
    const step = async (name: PrivilegeStep): Promise<void> => {
      const answers = await Promise.all(
        live.map(async (slot) => ({
          slot,
          answer: await this.#request(slot, slot.worker!, (requestId) => ({ type: 'privileges', requestId, step: name }), PRIVILEGES_TIMEOUT_MS),
        })),
      );
      for (const { slot, answer } of answers) {
        if (answer?.type !== 'privileges') {
          throw new QueueRangeError('Privileges', slot.queue, 'ERR_WORKER_NO_ANSWER', `the worker of queue ${slot.queue} did not take the '${name}' step of dropping privileges`);
        }
        if (answer.error) {
          throw new QueueRangeError('Privileges', slot.queue, answer.error.code ?? 'EIO', `the worker of queue ${slot.queue} could not ${name === 'prepare' ? 'prepare to keep' : 'keep only'} CAP_NET_ADMIN: ${answer.error.message}`);
        }
      }
    };
    try {
      await step('prepare');
      binding.dropPrivilegesPrepareThread();
      const ids = binding.dropPrivilegesSwitchUser(user);
      binding.dropPrivilegesFinishThread();
      await step('finish');
      return ids;
    } catch (error) {
      throw error instanceof QueueRangeError ? error : fromNativeError(error);
    }
  }

  /**
   * Closes every queue gracefully (each worker closes its queue as `Queue.close()` does, giving
   * held packets their verdicts, and exits) and resolves once every worker has exited. Idempotent:
   * every call returns the same promise. A worker that does not exit within 10 s is terminated.
   */
  close(): Promise<void> {
    this.#closeRequested = true;
    this.#closed ??= this.#closeAll();
    return this.#closed;
  }

  async #closeAll(): Promise<void> {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    await Promise.all(
      [...this.#slots.values()].map(async (slot) => {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        const worker = slot.worker;
        if (!worker) return;
        worker.postMessage({ type: 'close' } satisfies ParentMessage);
        const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
        await slot.exited;
        clearTimeout(timer);
      }),
    );
    this.emit('close');
  }
}

/** A worker's failure before binding; names the missing worker file when that is what failed. */
function workerLoadError(queue: number, error: Error): Error {
  const code = (error as { code?: unknown }).code;
  const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  if (!missing || !error.message.includes(fileURLToPath(workerUrl))) return error;
  return new QueueRangeError(
    'Open',
    queue,
    'ERR_MODULE_NOT_FOUND',
    `openQueueRange: the worker file ${fileURLToPath(workerUrl)} does not exist; workers run the built ` +
      'JavaScript, so import @nfq/nfqueue from dist/ (npm run build:ts), not from its TypeScript sources',
    { cause: error },
  );
}

/**
 * The worker thread of {@link openQueueRange}: imports the handler module (and calls its `setup`
 * export with the range's `handlerData`), binds one queue (and calls the module's `opened` export
 * with it), gives every packet to the handler, answers stats requests, and closes gracefully
 * when told to, reporting its queue's final counters.
 *
 * Whatever ends the thread (`process.exit()` in a handler, an uncaught exception), the queue is
 * unbound on the way out, so that the main thread can bind it again in a new worker: the native
 * reader thread would otherwise keep the socket, and the queue, until the process ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type NativeBinding, type NativeQueue, loadNativeBinding } from './native.js';
import type { Packet } from './packet.js';
import { type Queue, openQueue } from './queue.js';
import type { ParentMessage, WorkerErrorDescription, WorkerMessage, WorkerSetup } from './range-protocol.js';

/** The default export of a handler module. */
type Handler = (packet: Packet, queue: Queue) => void | Promise<void>;
/** What a worker takes from the handler module. */
interface HandlerModule {
  handler: Handler;
  /** Its `opened` export: called with the queue once bound, before the first packet. */
  opened: ((queue: Queue) => unknown) | undefined;
}

const setup = workerData as WorkerSetup;
const port = parentPort!;
const send = (message: WorkerMessage): void => port.postMessage(message);

let queue: Queue | undefined;
let native: NativeQueue | undefined;
let closeRequested = false;
/** Packets handed to the handler that may still wait for their verdict (pruned now and then). */
const handedOver = new Set<Packet>();
let pruneAt = 1024;

function describe(error: unknown): WorkerErrorDescription {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, code: typeof code === 'string' ? code : undefined, stack: error.stack };
}

function closeAndExit(): void {
  if (!queue) process.exit(0); // asked to close before binding: nothing to unbind
  const closing = queue;
  closing.close().then(
    () => {
      send({ type: 'closed', stats: closing.stats() });
      process.exit(0);
    },
    (error: unknown) => {
      send({ type: 'error', phase: 'run', error: describe(error) });
      process.exit(1);
    },
  );
}

port.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    if (queue) send({ type: 'stats', requestId: message.requestId, stats: queue.stats() });
  } else if (message.type === 'privileges') {
    // A step of QueueRange.dropPrivileges, on this thread: the capability is per thread.
    try {
      const binding = loadNativeBinding();
      if (message.step === 'prepare') binding.dropPrivilegesPrepareThread?.();
      else binding.dropPrivilegesFinishThread?.();
      send({ type: 'privileges', requestId: message.requestId });
    } catch (error) {
      send({ type: 'privileges', requestId: message.requestId, error: describe(error) });
    }
  } else if (message.type === 'close') {
    closeRequested = true;
    closeAndExit(); // before binding, main() has not opened the queue yet: just exit
  }
});

// The way out of a crash: verdict what the handler held, then unbind synchronously ('exit'
// handlers cannot wait). After a graceful close this finds nothing to do.
process.on('exit', () => {
  try {
    if (queue && !queue.closed) {
      for (const packet of handedOver) {
        if (packet.hasVerdict) continue;
        if (setup.options.defaultVerdict === 'drop') packet.drop();
        else packet.accept();
      }
      queue.flush();
    }
  } catch {
    // Unbinding below matters more.
  }
  try {
    native?.close();
  } catch {
    // Nothing more can be done in an exiting thread.
  }
});

/**
 * Imports the handler module and runs its `setup` export, if any, with the range's handlerData
 * and this worker's queue number; checks that its `opened` export, if any, is a function.
 */
async function loadHandler(): Promise<HandlerModule> {
  let module: { default?: unknown };
  try {
    module = (await import(setup.handler)) as { default?: unknown };
  } catch (error) {
    throw Object.assign(new Error(`could not be loaded: ${(error as Error)?.message ?? String(error)}`), {
      code: (error as { code?: string })?.code ?? 'ERR_QUEUE_RANGE_HANDLER',
    });
  }
  if (typeof module.default !== 'function') {
    const exported = Object.keys(module);
    throw Object.assign(
      new Error(
        `has no default export function (packet, queue) => void | Promise<void>` +
          ` (its default export is ${module.default === undefined ? 'missing' : typeof module.default};` +
          ` it exports ${exported.length > 0 ? exported.join(', ') : 'nothing'})`,
      ),
      { code: 'ERR_QUEUE_RANGE_HANDLER' },
    );
  }
  const handler = module.default as Handler;
  const { setup: setupExport, opened } = module as { setup?: unknown; opened?: unknown };
  if (opened !== undefined && typeof opened !== 'function') {
    throw Object.assign(new Error(`exports an opened that is not a function (a ${typeof opened})`), { code: 'ERR_QUEUE_RANGE_HANDLER' });
  }
  const loaded = { handler, opened: opened as HandlerModule['opened'] };
  if (setupExport === undefined) return loaded;
  if (typeof setupExport !== 'function') {
    throw Object.assign(new Error(`exports a setup that is not a function (a ${typeof setupExport})`), { code: 'ERR_QUEUE_RANGE_HANDLER' });
  }
  try {
    await (setupExport as (handlerData: unknown, worker: { queue: number }) => unknown)(setup.handlerData, { queue: setup.options.queue });
  } catch (error) {
    throw Object.assign(new Error(`failed in setup(handlerData): ${(error as Error)?.message ?? String(error)}`), {
      code: (error as { code?: string })?.code ?? 'ERR_QUEUE_RANGE_HANDLER',
    });
  }
  return loaded;
}

function openedError(error: unknown): Error {
  return Object.assign(new Error(`failed in opened(queue): ${(error as Error)?.message ?? String(error)}`), {
    code: (error as { code?: string })?.code ?? 'ERR_QUEUE_RANGE_HANDLER',
  });
}

async function main(): Promise<void> {
  let handler: Handler;
  let opened: HandlerModule['opened'];
  try {
    ({ handler, opened } = await loadHandler());
  } catch (error) {
    send({ type: 'error', phase: 'load', error: describe(error) });
    process.exit(1);
  }
  if (closeRequested) process.exit(0);
  // Keep the native queue at hand for the synchronous unbind in the 'exit' handler.
  const binding = loadNativeBinding();
  const recording: NativeBinding = {
    ...binding,
    NativeQueue: {
      open: (options) => (native = binding.NativeQueue.open(options)),
    },
  };
  try {
    queue = await openQueue(setup.options, { binding: recording });
  } catch (error) {
    send({ type: 'error', phase: 'open', error: describe(error) });
    process.exit(1);
  }
  const served = queue;
  if (opened !== undefined) {
    // Synchronously, before this turn ends: no packet is handed over before it returns.
    try {
      const result = opened(served) as PromiseLike<unknown> | undefined;
      if (typeof result?.then === 'function') {
        result.then(undefined, (error: unknown) => send({ type: 'error', phase: 'run', error: describe(openedError(error)) }));
      }
    } catch (error) {
      send({ type: 'error', phase: 'load', error: describe(openedError(error)) });
      process.exit(1); // the 'exit' handler unbinds the queue
    }
  }
  served.on('error', (error) => send({ type: 'error', phase: 'run', error: describe(error) }));
  served.on('packet', (packet) => {
    handedOver.add(packet);
    if (handedOver.size >= pruneAt) {
      for (const held of handedOver) if (held.hasVerdict) handedOver.delete(held);
      pruneAt = Math.max(1024, handedOver.size * 2);
    }
    return handler(packet, served);
  });
  if (closeRequested) {
    closeAndExit();
    return;
  }
  send({ type: 'ready', stats: served.stats() });
}

void main();

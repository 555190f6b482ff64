import { EventEmitter } from 'node:events';
import {
  type DecodedMessage,
  type PacketView,
  NFQA_VERDICT_HDR,
  NF_ACCEPT,
  NF_DROP,
  NF_QUEUE,
  NF_REPEAT,
  NF_STOP,
  NLMSG_HDRLEN,
  VerdictWriter,
  errnoName,
  forEachAttribute,
  forEachPacket,
  queueVerdict,
} from '@nfq/netlink';
import {
  InvalidOptionError,
  InvalidVerdictError,
  PacketHandlerError,
  QueueClosedError,
  VerdictRejectedError,
  type VerdictSource,
  fromNativeError,
} from './errors.js';
import { type NativeBinding, type NativeQueue, type NativeQueueOptions, loadNativeBinding } from './native.js';
import { Packet, type VerdictChanges, type VerdictSink, markVerdictGiven } from './packet.js';
import { validateQueueOptions } from './options.js';

/** Verdict values for {@link Queue.verdictBatch} (the kernel's NF_* numbers). */
export const Verdict = {
  /** Drop the packets. */
  Drop: NF_DROP,
  /** Let the packets continue. */
  Accept: NF_ACCEPT,
  /** Run the packets through the current hook again. */
  Repeat: NF_REPEAT,
  /** Accept and skip the remaining hooks of this priority. */
  Stop: NF_STOP,
  /** Send the packets to queue `queueNum` (with `bypass`, accept them when nothing listens there). */
  queue: (queueNum: number, bypass = false): number => queueVerdict(queueNum, bypass),
} as const;

/** Options of {@link openQueue}: how to bind the queue, and the queue's own policy. */
export interface QueueOptions extends NativeQueueOptions {
  /** Verdict for packets whose handler failed, that timed out, or that are waiting at close (default 'accept'). */
  defaultVerdict?: 'accept' | 'drop';
  /** Milliseconds a packet may wait for its verdict before it gets the default verdict (default: no limit). */
  verdictTimeout?: number;
  /** Milliseconds `close()` waits for held packets' verdicts before giving the default (default 2000). */
  drainTimeout?: number;
  /** Packets held without a verdict (by handlers or unread by an iterator) before reading pauses (default 4096). */
  highWaterMark?: number;
  /** Closes the queue (gracefully, as `close()`) when aborted. */
  signal?: AbortSignal;
}

/** What {@link openQueue} is built on; tests pass a fake binding here. */
export interface QueueDependencies {
  /** The native module; by default the napi binding in `native/`. */
  binding?: NativeBinding;
}

/** This process's counters for one queue. */
export interface QueueCounters {
  /** Packets received. */
  received: number;
  /** Verdicts sent, by kind (a VERDICT_BATCH counts once, under `batch`). */
  verdicts: { accept: number; drop: number; repeat: number; queue: number; stop: number; batch: number };
  /** Packets that got the default verdict, by why. */
  defaultVerdicts: { handlerError: number; timeout: number; close: number; truncated: number };
  /** Packets whose verdict timeout passed (also counted in defaultVerdicts.timeout). */
  timeouts: number;
  /** Socket overruns (ENOBUFS): the kernel dropped (or, with failOpen, accepted) packets unseen. */
  overruns: number;
  /** Verdicts the kernel refused. */
  verdictsRejected: number;
  /** Messages of a type the queue does not expect (the kernel never sends them), ignored. */
  otherMessages: number;
  /** Packets waiting for a verdict now. */
  held: number;
  /** Batches received (one recvmmsg each). */
  batches: number;
  /** Times reading paused because too many packets were held (backpressure). */
  pauses: number;
  /** Flushes sent as one VERDICT_BATCH instead of one verdict message per packet. */
  coalescedFlushes: number;
}

/** Events of a {@link Queue}. */
export interface QueueEvents {
  /** A packet arrived (while a listener is attached; otherwise packets go to the iterators). */
  packet: [packet: Packet];
  /** A handler failed, the kernel refused a verdict, or receiving failed. */
  error: [error: Error];
  /** The socket overflowed (ENOBUFS): `count` more overruns, `total` so far. The queue keeps running. */
  overrun: [info: { count: number; total: number }];
  /** A packet waited longer than `verdictTimeout` and got the default verdict. */
  timeout: [packet: Packet];
  /** The queue closed; every packet it received has its verdict. */
  close: [];
}

type Waiter = (result: IteratorResult<Packet[], undefined>) => void;

/** Counts one verdict under its kind (named properties: no computed key on the hot path). */
const countVerdict = (counts: QueueCounters['verdicts'], verdict: number): void => {
  switch (verdict & 0xff) {
    case NF_DROP:
      counts.drop++;
      break;
    case NF_REPEAT:
      counts.repeat++;
      break;
    case NF_QUEUE:
      counts.queue++;
      break;
    case NF_STOP:
      counts.stop++;
      break;
    default:
      counts.accept++;
  }
};

const MAX_PAYLOAD = 0xffff - 4; // what fits in one netlink attribute
const isU32 = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;

/** Every queue this process has open, for {@link queueStats}. @internal */
export const openQueues: Set<Queue> = new Set();

/**
 * A bound NFQUEUE queue. Receive packets with `queue.on('packet', handler)` (the fastest path),
 * `for await (const packet of queue)`, or `for await (const batch of queue.batches())`; give each
 * packet exactly one verdict, at once or later.
 *
 * Nothing is lost: a packet whose handler throws or rejects, whose `verdictTimeout` passes, or
 * that is still waiting when the queue closes gets `defaultVerdict`. Verdicts are collected and
 * sent in one native call per received batch (and once per event-loop turn for verdicts given later).
 */
export class Queue extends EventEmitter<QueueEvents> implements AsyncIterable<Packet> {
  /** The bound queue number. */
  readonly queueNum: number;
  /** The socket's netlink port id. */
  readonly portId: number;
  /** The network namespace the queue lives in, when not this process's. */
  readonly netns: string | undefined;
  readonly #native: NativeQueue;
  readonly #binding: NativeBinding;
  readonly #defaultVerdict: number;
  readonly #defaultVerdictName: 'accept' | 'drop';
  readonly #verdictTimeout: number | undefined;
  readonly #drainTimeout: number;
  readonly #highWaterMark: number;
  readonly #writer = new VerdictWriter();
  /** Packets without a verdict, oldest first (Map keeps insertion order). */
  readonly #held = new Map<number, Packet>();
  /** When each held packet arrived (ms, performance.now()), for verdictTimeout. */
  readonly #arrivedAt = new Map<number, number>();
  /** Received batches not yet taken by an iterator. */
  readonly #unread: Packet[][] = [];
  readonly #waiters: Waiter[] = [];
  readonly #sink: VerdictSink;
  readonly #counters: QueueCounters = {
    received: 0,
    verdicts: { accept: 0, drop: 0, repeat: 0, queue: 0, stop: 0, batch: 0 },
    defaultVerdicts: { handlerError: 0, timeout: 0, close: 0, truncated: 0 },
    timeouts: 0,
    overruns: 0,
    verdictsRejected: 0,
    otherMessages: 0,
    held: 0,
    batches: 0,
    pauses: 0,
    coalescedFlushes: 0,
  };
  /**
   * Plain verdicts (no payload, no connmark) given since the last flush and not yet encoded, in
   * order: ids, verdicts, marks (-1 for none). Most flushes send them as one VERDICT_BATCH, so
   * they are encoded only when they cannot be (see {@link flush}), or before a message that must
   * follow them in order (a payload verdict, an explicit verdictBatch).
   */
  readonly #stagedIds: number[] = [];
  readonly #stagedVerdicts: number[] = [];
  readonly #stagedMarks: number[] = [];
  /** What the staged verdicts have in common: the highest id, and the one verdict and mark they all share (`uniform`). */
  #staged = { maxId: 0, verdict: 0, mark: -1, uniform: true };
  #interfaces: Map<number, string> | undefined;
  #interfacesLoadedAt = Number.NEGATIVE_INFINITY;
  #dispatching = false;
  #flushScheduled = false;
  #paused = false;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;
  #abort: { signal: AbortSignal; listener: () => void } | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  /** Wraps an opened native queue and starts receiving; use {@link openQueue}. @internal */
  constructor(native: NativeQueue, binding: NativeBinding, options: QueueOptions) {
    super({ captureRejections: true });
    this.#native = native;
    this.#binding = binding;
    this.queueNum = native.queueNum;
    this.portId = native.portId;
    this.netns = options.netns;
    this.#defaultVerdictName = options.defaultVerdict ?? 'accept';
    this.#defaultVerdict = this.#defaultVerdictName === 'drop' ? NF_DROP : NF_ACCEPT;
    this.#verdictTimeout = options.verdictTimeout;
    this.#drainTimeout = options.drainTimeout ?? 2000;
    this.#highWaterMark = options.highWaterMark ?? 4096;
    this.#sink = {
      appendVerdict: (packet, verdict, changes) => this.#appendVerdict(packet, verdict, changes),
      interfaceName: (index) => this.interfaceName(index),
    };
    if (options.signal) {
      const listener = (): void => void this.close();
      options.signal.addEventListener('abort', listener, { once: true });
      this.#abort = { signal: options.signal, listener };
    }
    openQueues.add(this);
    native.start((error, batch) => this.#onBatch(error ?? null, batch));
  }

  /** Packets received that have no verdict yet. */
  get outstandingCount(): number {
    return this.#held.size;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** This process's counters for the queue, with the native side's. */
  stats(): QueueCounters & { native: ReturnType<NativeQueue['stats']> } {
    const counters = this.#counters;
    return {
      ...counters,
      verdicts: { ...counters.verdicts },
      defaultVerdicts: { ...counters.defaultVerdicts },
      held: this.#held.size,
      native: this.#native.stats(),
    };
  }

  /** The name of interface `index` in the queue's namespace (cached; re-read at most once a second on a miss). */
  interfaceName(index: number): string | undefined {
    let name = this.#interfaces?.get(index);
    if (name === undefined && !this.#closing && performance.now() - this.#interfacesLoadedAt > 1000) {
      this.#interfacesLoadedAt = performance.now();
      try {
        this.#interfaces = new Map(this.#native.interfaces().map(({ index: i, name: n }) => [i, n]));
      } catch {
        this.#interfaces ??= new Map();
      }
      name = this.#interfaces.get(index);
    }
    return name;
  }

  /**
   * Gives one verdict (and optionally a mark) to every waiting packet with an id up to and
   * including `id` (NFQNL_MSG_VERDICT_BATCH); those packets then count as verdicted.
   */
  verdictBatch(id: number, verdict: number, options?: { mark?: number }): void {
    if (this.#closing) throw new QueueClosedError(this.queueNum);
    if (!isU32(id)) throw new InvalidVerdictError(id, 'the id must be an integer from 0 to 4294967295');
    if (!isU32(verdict)) throw new InvalidVerdictError(id, 'the verdict must be an NF_* number (see Verdict)');
    if (options?.mark !== undefined && !isU32(options.mark)) {
      throw new InvalidVerdictError(id, 'mark must be an integer from 0 to 4294967295');
    }
    this.#encodeStaged(); // what was given before goes first: this batch must not cover it
    this.#writer.appendVerdictBatch({ queue: this.queueNum, id, verdict, mark: options?.mark });
    this.#counters.verdicts.batch++;
    for (const [packetId, packet] of this.#held) {
      if (((packetId - id) | 0) > 0) continue; // after `id`, compared with wrap-around as the kernel does
      packet[markVerdictGiven]('batch');
      this.#release(packetId);
    }
    this.#scheduleFlush();
  }

  /**
   * Sends the collected verdicts now (normally automatic). When they all share one verdict and
   * mark, carry nothing else, and no packet with a lower id still waits, they go as a single
   * VERDICT_BATCH message: the kernel then parses one message instead of one per packet.
   */
  flush(): void {
    const staged = this.#staged;
    const count = this.#stagedIds.length;
    if (count > 1 && staged.uniform && this.#writer.byteLength === 0 && this.#noneHeldUpTo(staged.maxId)) {
      const mark = staged.mark < 0 ? undefined : staged.mark;
      this.#writer.appendVerdictBatch({ queue: this.queueNum, id: staged.maxId, verdict: staged.verdict, mark });
      this.#clearStaged();
      this.#counters.coalescedFlushes++;
    } else {
      this.#encodeStaged();
    }
    if (this.#writer.byteLength === 0) return;
    const messages = this.#writer.bytes();
    try {
      this.#native.sendVerdicts(messages);
    } catch (error) {
      this.#reportError(fromNativeError(error));
    } finally {
      this.#writer.clear();
    }
  }

  /**
   * Closes gracefully; idempotent (every call returns the same promise). Stops receiving; gives
   * the default verdict at once to packets received but not yet handed to user code; waits up to
   * `drainTimeout` for the verdicts of packets handlers hold; gives the rest the default verdict;
   * reads what the socket still holds and verdicts it too; unbinds and closes the socket.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#abort) this.#abort.signal.removeEventListener('abort', this.#abort.listener);
    // Leave a batch callback that may have called close() before joining the reader thread.
    await null;
    const notHandedOver = this.#native.stopReceiving() ?? [];
    for (const batch of notHandedOver) this.#onBatch(null, batch); // closing: packets are only tracked
    // Packets no user code has seen get the default verdict now.
    for (const batch of this.#unread.splice(0)) {
      for (const packet of batch) this.#giveDefault(packet, 'close');
    }
    for (const resolve of this.#waiters.splice(0)) resolve({ value: undefined, done: true });
    this.flush();
    if (this.#held.size > 0 && this.#drainTimeout > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#drainTimeout);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#drained = undefined;
    }
    for (const packet of [...this.#held.values()]) this.#giveDefault(packet, 'close');
    // What arrived after the reader stopped would be dropped by the kernel at unbind: verdict it.
    for (let round = 0; round < 64; round++) {
      let pending: Buffer | null;
      try {
        pending = this.#native.receivePending();
      } catch {
        break;
      }
      if (!pending) break;
      this.#onBatch(null, pending);
      for (const packet of [...this.#held.values()]) this.#giveDefault(packet, 'close');
    }
    this.flush();
    clearTimeout(this.#timeoutTimer);
    openQueues.delete(this);
    try {
      this.#native.close();
    } finally {
      this.emit('close');
    }
  }

  /** Iterates over packets as they arrive; ends when the queue closes. Leaving the loop early closes the queue. */
  [Symbol.asyncIterator](): AsyncIterator<Packet, undefined> {
    let current: Packet[] = [];
    let index = 0;
    return {
      next: async () => {
        while (index >= current.length) {
          const batch = await this.#nextBatch();
          if (batch.done) return { value: undefined, done: true };
          current = batch.value;
          index = 0;
        }
        return { value: current[index++]!, done: false };
      },
      return: async () => {
        // Packets of the current batch that the loop never saw get the default verdict at close.
        for (const packet of current.slice(index)) this.#giveDefault(packet, 'close');
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Iterates over received batches (one array of packets per recvmmsg); leaving the loop early closes the queue. */
  batches(): AsyncIterable<Packet[]> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => this.#nextBatch(),
        return: async () => {
          await this.close();
          return { value: undefined, done: true };
        },
      }),
    };
  }

  #nextBatch(): Promise<IteratorResult<Packet[], undefined>> {
    // Once close() is called the iterators end; what they did not read gets the default verdict.
    if (this.#closing) return Promise.resolve({ value: undefined, done: true });
    const batch = this.#unread.shift();
    if (batch) {
      this.#updateBackpressure();
      return Promise.resolve({ value: batch, done: false });
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Adds a plain verdict (mark -1: none) to the flush being collected (see {@link flush}). */
  #stage(id: number, verdict: number, mark: number): void {
    const staged = this.#staged;
    const ids = this.#stagedIds;
    if (ids.length === 0) {
      staged.verdict = verdict;
      staged.mark = mark;
      staged.uniform = true;
      staged.maxId = id;
    } else {
      if (verdict !== staged.verdict || mark !== staged.mark) staged.uniform = false;
      if (((id - staged.maxId) | 0) > 0) staged.maxId = id;
    }
    ids.push(id);
    this.#stagedVerdicts.push(verdict);
    this.#stagedMarks.push(mark);
  }

  /** Encodes the staged verdicts, in order, one VERDICT message each. */
  #encodeStaged(): void {
    const ids = this.#stagedIds;
    const verdicts = this.#stagedVerdicts;
    const marks = this.#stagedMarks;
    for (let i = 0; i < ids.length; i++) {
      const mark = marks[i]!;
      this.#writer.appendVerdict({ queue: this.queueNum, id: ids[i]!, verdict: verdicts[i]!, mark: mark < 0 ? undefined : mark });
    }
    this.#clearStaged();
  }

  #clearStaged(): void {
    this.#stagedIds.length = 0;
    this.#stagedVerdicts.length = 0;
    this.#stagedMarks.length = 0;
  }

  #appendVerdict(packet: Packet, verdict: number, changes: VerdictChanges | undefined): void {
    if (this.#closed && !this.#held.has(packet.id)) throw new QueueClosedError(this.queueNum);
    if (packet.queueNum !== this.queueNum) {
      throw new InvalidVerdictError(packet.id, `the packet came from queue ${packet.queueNum}, not queue ${this.queueNum}`);
    }
    const id = packet.id;
    if (changes === undefined) {
      this.#stage(id, verdict, -1);
    } else {
      checkChanges(id, changes);
      if (changes.payload === undefined && changes.connmark === undefined) {
        this.#stage(id, verdict, changes.mark ?? -1);
      } else {
        this.#encodeStaged();
        this.#writer.appendVerdict({ queue: this.queueNum, id, verdict, mark: changes.mark, payload: changes.payload, connmark: changes.connmark });
      }
    }
    countVerdict(this.#counters.verdicts, verdict);
    this.#release(id);
    this.#scheduleFlush();
  }

  /** Gives `packet` the default verdict (if it has none), counted under `source`. */
  #giveDefault(packet: Packet, source: Exclude<VerdictSource, 'handler' | 'batch'>): void {
    if (packet.hasVerdict) return;
    this.#stage(packet.id, this.#defaultVerdict, -1);
    countVerdict(this.#counters.verdicts, this.#defaultVerdict);
    const key = source === 'handler-error' ? 'handlerError' : source;
    this.#counters.defaultVerdicts[key]++;
    packet[markVerdictGiven](source);
    this.#release(packet.id);
    this.#scheduleFlush();
  }

  #release(id: number): void {
    this.#held.delete(id);
    if (this.#verdictTimeout !== undefined) this.#arrivedAt.delete(id);
    if (this.#held.size === 0) this.#drained?.();
    if (this.#paused) this.#updateBackpressure();
  }

  /**
   * Flushes verdicts given outside a batch callback once the current turn of the event loop is
   * done (setImmediate, not a microtask): an async iterator consumes a whole batch in microtasks,
   * so its verdicts still leave in one flush instead of one per packet.
   */
  #scheduleFlush(): void {
    if (this.#dispatching || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  /** Pauses reading when too many packets are held; resumes below half the mark. */
  #updateBackpressure(): void {
    const held = this.#held.size;
    if (!this.#paused && held >= this.#highWaterMark && !this.#closing) {
      this.#paused = true;
      this.#counters.pauses++;
      this.#native.pause();
    } else if (this.#paused && (held <= this.#highWaterMark >> 1 || this.#closing)) {
      this.#paused = false;
      this.#native.resume();
    }
  }

  /**
   * What the batch being read needs per packet, in fields rather than closures so that a batch
   * allocates nothing but its packets (#onBatch is never re-entered: close() waits a microtask).
   */
  #batch = {
    /** performance.now() at arrival, or -1 without verdictTimeout. */
    now: -1,
    /** The batch's packets for the iterators; undefined when each goes to the 'packet' listeners as read. */
    packets: undefined as Packet[] | undefined,
    received: 0,
    /** Errors to report once the batch's verdicts are sent; allocated on the first. */
    errors: undefined as Error[] | undefined,
  };

  readonly #onPacketView = (view: PacketView): void => {
    const batch = this.#batch;
    const packet = new Packet(view, this.#sink);
    const id = view.id;
    this.#held.set(id, packet);
    if (batch.now >= 0) this.#arrivedAt.set(id, batch.now);
    batch.received++;
    if (batch.packets !== undefined) batch.packets.push(packet);
    else if (this.#closing) this.#giveDefault(packet, 'close'); // a handler closed the queue mid-batch
    else this.#dispatch(packet);
  };

  readonly #onOtherMessageOfBatch = (message: DecodedMessage): void => this.#onOtherMessage(message);

  #collectError(error: Error): void {
    (this.#batch.errors ??= []).push(error);
  }

  #onBatch(error: Error | null, bytes: Buffer | null | undefined): void {
    if (error) {
      this.#reportError(fromNativeError(error));
      return;
    }
    if (!bytes) return; // no batch: stopReceiving already returned it
    const batch = this.#batch;
    batch.now = this.#verdictTimeout === undefined ? -1 : performance.now();
    // With a 'packet' listener each packet goes to it as soon as it is read; otherwise the batch
    // goes to the iterators whole.
    batch.packets = this.#closing || this.listenerCount('packet') === 0 ? [] : undefined;
    batch.received = 0;
    batch.errors = undefined;
    this.#counters.batches++;
    this.#dispatching = true;
    try {
      forEachPacket(bytes, this.#onPacketView, this.#onOtherMessageOfBatch);
    } catch (decodeError) {
      this.#collectError(decodeError as Error); // the packets before the malformed message are kept
    }
    this.#counters.received += batch.received;
    const packets = batch.packets;
    const errors = batch.errors as Error[] | undefined; // set by the callbacks above
    batch.packets = undefined;
    if (packets !== undefined && packets.length > 0 && !this.#closing) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter({ value: packets, done: false });
      else this.#unread.push(packets);
    }
    this.#dispatching = false;
    this.flush();
    this.#checkOverruns();
    this.#updateBackpressure();
    this.#armTimeout();
    if (errors !== undefined) for (const reported of errors) this.#reportError(reported);
  }

  #dispatch(packet: Packet): void {
    try {
      this.emit('packet', packet);
    } catch (handlerError) {
      this.#giveDefault(packet, 'handler-error');
      this.#collectError(new PacketHandlerError(packet.id, this.#defaultVerdictName, handlerError));
    }
  }

  /** EventEmitter calls this when an async 'packet' listener rejects (captureRejections). @internal */
  [Symbol.for('nodejs.rejection')](error: unknown, event: string, ...args: unknown[]): void {
    const packet = event === 'packet' ? (args[0] as Packet) : undefined;
    if (packet) {
      this.#giveDefault(packet, 'handler-error');
      this.#reportError(new PacketHandlerError(packet.id, this.#defaultVerdictName, error));
    } else {
      this.#reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #onOtherMessage(message: DecodedMessage): void {
    if (message.type === 'truncatedPacket') {
      // Cut by the receiver: only the id is known. It still gets a verdict: the default one.
      this.#stage(message.id, this.#defaultVerdict, -1);
      countVerdict(this.#counters.verdicts, this.#defaultVerdict);
      this.#counters.defaultVerdicts.truncated++;
    } else if (message.type === 'error' && message.error.errno !== 0) {
      this.#counters.verdictsRejected++;
      this.#collectError(verdictRejection(message));
    } else if (message.type === 'other') {
      this.#counters.otherMessages++; // counted and ignored: never fatal
    }
  }

  #checkOverruns(): void {
    const total = this.#native.overrunCount;
    const count = total - this.#counters.overruns;
    if (count > 0) {
      this.#counters.overruns = total;
      this.emit('overrun', { count, total });
    }
  }

  /** Keeps one timer, due when the oldest held packet's verdictTimeout passes. */
  #armTimeout(): void {
    const timeout = this.#verdictTimeout;
    if (timeout === undefined || this.#timeoutTimer !== undefined || this.#closing) return;
    const oldest = this.#arrivedAt.values().next();
    if (oldest.done) return;
    const due = Math.max(0, oldest.value + timeout - performance.now());
    this.#timeoutTimer = setTimeout(() => {
      this.#timeoutTimer = undefined;
      const now = performance.now();
      for (const [id, arrived] of this.#arrivedAt) {
        if (arrived + timeout > now) break; // oldest first: the rest are younger
        const packet = this.#held.get(id);
        if (!packet) continue;
        this.#counters.timeouts++;
        this.#giveDefault(packet, 'timeout');
        this.emit('timeout', packet);
      }
      this.#armTimeout();
    }, due);
    this.#timeoutTimer.unref();
  }

  /** True when no packet waiting for a verdict has an id up to `id` (ids are handed out in order). */
  #noneHeldUpTo(id: number): boolean {
    const oldest = this.#held.keys().next();
    return oldest.done || ((oldest.value - id) | 0) > 0;
  }

  #reportError(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else {
      // Like an EventEmitter without an 'error' listener: the error must not pass unseen.
      process.nextTick(() => {
        throw error;
      });
    }
  }

  /** This queue's line of `/proc/net/netfilter/nfnetlink_queue` (waiting packets, kernel drops...). */
  kernelStats(): KernelQueueStats | undefined {
    return readKernelQueueStats(this.#binding, this.netns).find((row) => row.queue === this.queueNum);
  }
}

/** Checks a verdict's changes before anything is written. */
function checkChanges(packetId: number, changes: VerdictChanges): void {
  if (changes.mark !== undefined && !isU32(changes.mark)) {
    throw new InvalidVerdictError(packetId, `mark must be an integer from 0 to 4294967295, got ${String(changes.mark)}`);
  }
  if (changes.connmark !== undefined && !isU32(changes.connmark)) {
    throw new InvalidVerdictError(packetId, `connmark must be an integer from 0 to 4294967295, got ${String(changes.connmark)}`);
  }
  if (changes.payload !== undefined) {
    if (!(changes.payload instanceof Uint8Array)) {
      throw new InvalidVerdictError(packetId, 'payload must be a Buffer or Uint8Array holding the packet from its IP header on');
    }
    if (changes.payload.length > MAX_PAYLOAD) {
      throw new InvalidVerdictError(
        packetId,
        `payload of ${changes.payload.length} bytes is too large: at most ${MAX_PAYLOAD} bytes fit in a verdict`,
      );
    }
  }
}

/** The kernel's refusal of a verdict. */
function verdictRejection(message: Extract<DecodedMessage, { type: 'error' }>): VerdictRejectedError {
  const decoded = message.error;
  let packetId: number | undefined;
  const request = decoded.requestBytes;
  if (request && request.length > NLMSG_HDRLEN + 4) {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    forEachAttribute(view, NLMSG_HDRLEN + 4, request.length, (type, offset, length) => {
      if (type === NFQA_VERDICT_HDR && length === 8) packetId = view.getUint32(offset + 4);
    });
  }
  return new VerdictRejectedError(decoded.errno, decoded.code ?? errnoName(decoded.errno) ?? 'EUNKNOWN', packetId, decoded.extAckMessage);
}

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

function readKernelQueueStats(binding: NativeBinding, netns: string | undefined): KernelQueueStats[] {
  try {
    return parseKernelQueueStats(binding.readProcNet('netfilter/nfnetlink_queue', netns ?? null));
  } catch {
    return []; // no nfnetlink_queue (not loaded), or no such namespace
  }
}

/** A queue of the host as `/proc` shows it, with this process's counters when it is one of ours. */
export interface QueueHealth extends KernelQueueStats {
  /** This process's counters, when this process holds the queue. */
  own?: ReturnType<Queue['stats']>;
}

/**
 * Every queue of this host (or of namespace `netns`): the kernel's line for each (waiting
 * packets, kernel drops, user drops, id sequence) and, for the queues this process holds, its
 * own counters (received, verdicts by kind, default verdicts, timeouts, overruns).
 */
export function queueStats(options: { netns?: string } = {}, dependencies: QueueDependencies = {}): QueueHealth[] {
  const binding = dependencies.binding ?? loadNativeBinding();
  return readKernelQueueStats(binding, options.netns).map((row) => {
    const own = [...openQueues].find((q) => q.netns === options.netns && q.queueNum === row.queue && q.portId === row.portId);
    return own ? { ...row, own: own.stats() } : row;
  });
}

/**
 * Binds queue `options.queue` and starts receiving. Every option is checked first: a bad one
 * rejects with {@link InvalidOptionError} before any system call. Binding failures reject with a
 * typed error: {@link PermissionDeniedError} (no CAP_NET_ADMIN), {@link QueueAlreadyBoundError}
 * (names the process that holds the queue), {@link UnsupportedError} (no nfnetlink_queue, or a
 * flag the kernel lacks), {@link KernelError}.
 */
export async function openQueue(options: QueueOptions, dependencies: QueueDependencies = {}): Promise<Queue> {
  validateQueueOptions(options);
  options.signal?.throwIfAborted();
  const binding = dependencies.binding ?? loadNativeBinding();
  const {
    defaultVerdict: _defaultVerdict,
    verdictTimeout: _verdictTimeout,
    drainTimeout: _drainTimeout,
    highWaterMark: _highWaterMark,
    signal: _signal,
    ...nativeOptions
  } = options;
  let native: NativeQueue;
  try {
    native = binding.NativeQueue.open(nativeOptions);
  } catch (error) {
    throw fromNativeError(error);
  }
  return new Queue(native, binding, options);
}


import { EventEmitter } from 'node:events';
import {
  type DecodedMessage,
  NFQA_VERDICT_HDR,
  NFQNL_MSG_VERDICT,
  NFQNL_MSG_VERDICT_BATCH,
  NF_ACCEPT,
  NF_DROP,
  NF_QUEUE,
  NF_REPEAT,
  NF_STOP,
  NLMSG_HDRLEN,
  errnoName,
  forEachAttribute,
  forEachPacketAt,
  nfqMessageType,
} from '@nfq/netlink';
import {
  InvalidOptionError,
  InvalidVerdictError,
  KernelError,
  PacketHandlerError,
  QueueClosedError,
  VerdictRejectedError,
  type VerdictRejectionOutcome,
  type VerdictSource,
  fromNativeError,
} from './errors.js';
import { HeldPackets, NOT_HELD } from './held-packets.js';
import { DurationRecorder, type QueueMetrics } from './metrics.js';
import { type NativeBinding, type NativeQueue, loadNativeBinding } from './native.js';
import { effectiveReaderThread } from './runtime.js';
import { Packet, type VerdictChanges, type VerdictSink, markVerdictGiven } from './packet.js';
import { type QueueDependencies, type QueueOptions, validateQueueOptions } from './options.js';
import { type KernelQueueStats, kernelQueueStats, openQueues, readBoundQueues } from './queue-stats.js';
import { MAX_SEQ, RESENT_SEQ, SEND_ALREADY_REFUSED, SEND_UNKNOWN } from './verdict-records.js';
import { VerdictStaging } from './verdict-staging.js';
import { checkKeys, checkPacketId, checkVerdictValue, checkedQueueVerdict } from './verdict-checks.js';
import { reportUnheard } from './warnings.js';

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
  /**
   * Send the packets to queue `queueNum` (with `bypass`, accept them when nothing listens there);
   * throws InvalidVerdictError unless `queueNum` is an integer from 0 to 65535.
   */
  queue: (queueNum: number, bypass = false): number => checkedQueueVerdict(undefined, queueNum, bypass),
} as const;

/** This process's counters for one queue. */
export interface QueueCounters {
  /** Packets received. */
  received: number;
  /** Verdicts sent, by kind (a VERDICT_BATCH counts once, under `batch`). */
  verdicts: { accept: number; drop: number; repeat: number; queue: number; stop: number; batch: number };
  /** Packets that got the default verdict, by why. */
  defaultVerdicts: { handlerError: number; timeout: number; close: number; cutByReceiver: number; rejected: number };
  /** Packets whose verdict timeout passed (also counted in defaultVerdicts.timeout). */
  timeouts: number;
  /**
   * Socket overruns: the times a receive failed with ENOBUFS because the socket buffer was full.
   * Each may stand for many packets the kernel dropped unseen, which it counts in
   * {@link Queue.kernelStats}'s `userDropped` (with failOpen it accepts them instead, uncounted).
   */
  overruns: number;
  /**
   * Verdict messages the kernel refused. An EPERM refusal counts every message of its send: the
   * kernel answers only the first one when the process lacks CAP_NET_ADMIN.
   */
  verdictsRejected: number;
  /**
   * Packets whose verdict the kernel refused and that were not resent (EPERM, or a refused default
   * verdict), as far as known: they wait in the kernel until the queue closes.
   */
  packetsRejected: number;
  /** Messages of a type the queue does not expect (the kernel never sends them), ignored. */
  otherMessages: number;
  /** Packets waiting for a verdict now. */
  held: number;
  /** Batches received (one recvmmsg each). */
  batches: number;
  /** Times reading paused because too many packets were held (backpressure). */
  pauses: number;
  /**
   * Times reading paused because every receive bank (32) held a packet whose bytes a handler had
   * taken a view of; it resumes when one of them gets its verdict (see {@link Packet}).
   */
  memoryPauses: number;
  /** Flushes sent as one VERDICT_BATCH instead of one verdict message per packet. */
  coalescedFlushes: number;
  /**
   * Packets whose bytes were copied out of the receive memory because they waited for their
   * verdict while that memory was needed again (many packets held for long); see {@link Packet}.
   */
  relocated: number;
}

/** Events of a {@link Queue}. */
export interface QueueEvents {
  /** A packet arrived (while a listener is attached; otherwise packets go to the iterators). */
  packet: [packet: Packet];
  /** A handler failed, the kernel refused a verdict, or receiving failed. Without a listener: a rate-limited process warning. */
  error: [error: Error];
  /**
   * The socket overflowed: `count` more ENOBUFS events, `total` so far (events, not packets: the
   * kernel counts the packets lost, see {@link Queue.kernelStats}'s `userDropped`). The queue keeps running.
   */
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

/**
 * The control array the binding's event-loop reader shares (an Int32Array; its layout is the
 * binding's, see crates/nfq-napi/src/event_loop.rs): the bank to receive into next (written here),
 * the slot size, the datagrams of this batch, the most banks, the socket overruns so far (mod
 * 2^32), then each datagram's length.
 */
const CONTROL_NEXT_BANK = 0;
const CONTROL_SLOT_SIZE = 1;
const CONTROL_COUNT = 2;
const CONTROL_MAX_BANKS = 3;
const CONTROL_OVERRUNS = 4;
const CONTROL_LENGTHS = 5;

const checkVerdictMark = (id: number, mark: unknown): void => {
  if (typeof mark !== 'number' || !Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) {
    throw new InvalidVerdictError(id, `mark must be an integer from 0 to 4294967295, got ${String(mark)}`);
  }
};

/** The batch memory when no batch is being read. */
const EMPTY_BYTES = new Uint8Array(0);

/**
 * A bound NFQUEUE queue. Receive packets with `queue.on('packet', handler)` (the fastest path),
 * `for await (const packet of queue)`, or `for await (const batch of queue.batches())`; give each
 * packet exactly one verdict, at once or later.
 *
 * Nothing is lost: a packet whose handler throws or rejects, whose `verdictTimeout` passes, whose
 * verdict the kernel refuses, or that is still waiting when the queue closes gets `defaultVerdict`
 * (except after EPERM: without CAP_NET_ADMIN every verdict is refused, so nothing is resent).
 * Verdicts are checked before anything is sent, collected, and sent in the order they were given,
 * in one native call per received batch (and once per event-loop turn for verdicts given later).
 *
 * Errors (a handler that failed, a refused verdict, a failed receive) go to 'error'. With no
 * 'error' listener they become process warnings (`NfqueueWarning`, at most one a second per
 * code, with a count of those left out) and the queue keeps serving: unlike a plain
 * EventEmitter, an error nobody listens for does not end the process.
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
  /** Packets without a verdict, and the receive banks they lie in. */
  readonly #held: HeldPackets;
  /** Received batches not yet taken by an iterator. */
  readonly #unread: Packet[][] = [];
  readonly #waiters: Waiter[] = [];
  readonly #sink: VerdictSink;
  readonly #counters: QueueCounters = {
    received: 0,
    verdicts: { accept: 0, drop: 0, repeat: 0, queue: 0, stop: 0, batch: 0 },
    defaultVerdicts: { handlerError: 0, timeout: 0, close: 0, cutByReceiver: 0, rejected: 0 },
    timeouts: 0,
    overruns: 0,
    verdictsRejected: 0,
    packetsRejected: 0,
    otherMessages: 0,
    held: 0,
    batches: 0,
    pauses: 0,
    coalescedFlushes: 0,
    relocated: 0,
    memoryPauses: 0,
  };
  /** How long the 'packet' listeners ran per packet. */
  readonly #handlerDurations = new DurationRecorder();
  /** Verdicts given since the last send (see {@link flush}), and the sequence numbers of those sent. */
  readonly #staging: VerdictStaging;
  /** The binding's control array (event-loop reader), once a batch brought it. */
  #control: Int32Array | undefined;
  /** Every bank holds a packet waiting for its verdict: reading waits for one to free. */
  #bankStarved = false;
  /** The 'packet' listeners, as `rawListeners` gave them when they last changed (see #packetListeners). */
  #listeners: Function[] = [];
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
  /** True once the native close() ran: the queue's /proc line is gone. */
  #unbound = false;
  /** The queue's /proc line read just before it unbound. */
  #finalKernelStats: KernelQueueStats | undefined;

  /** Wraps an opened native queue and starts receiving; use {@link openQueue}. @internal */
  constructor(native: NativeQueue, binding: NativeBinding, options: QueueOptions) {
    super({ captureRejections: true });
    this.#native = native;
    this.#binding = binding;
    this.queueNum = native.queueNum;
    this.#staging = new VerdictStaging(this.queueNum);
    this.portId = native.portId;
    this.netns = options.netns;
    this.#defaultVerdictName = options.defaultVerdict ?? 'accept';
    this.#defaultVerdict = this.#defaultVerdictName === 'drop' ? NF_DROP : NF_ACCEPT;
    this.#verdictTimeout = options.verdictTimeout;
    this.#drainTimeout = options.drainTimeout ?? 2000;
    this.#highWaterMark = options.highWaterMark ?? 4096;
    this.#held = new HeldPackets(this.#verdictTimeout !== undefined, this.#counters);
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
    native.start((error, batch, bank, control) => this.#onBatch(error ?? null, batch, bank, control));
  }

  /** Packets received that have no verdict yet. */
  get outstandingCount(): number {
    return this.#held.count();
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
      held: this.#held.count(),
      native: this.#native.stats(),
    };
  }

  /**
   * The queue's numbers for a metrics exporter (render them with {@link formatPrometheus}): this
   * process's counters, the kernel's line (packets waiting, kernel drops; undefined when /proc
   * cannot be read), and the histogram of the 'packet' listeners' run time per packet.
   */
  metrics(): QueueMetrics {
    const counters = this.#counters;
    let kernel: KernelQueueStats | undefined;
    try {
      kernel = this.kernelStats();
    } catch {
      kernel = undefined; // /proc is root's to read
    }
    return {
      queue: this.queueNum,
      received: counters.received,
      verdicts: { ...counters.verdicts },
      defaultVerdicts: { ...counters.defaultVerdicts },
      overruns: counters.overruns,
      held: this.#held.count(),
      kernel: kernel && { waiting: kernel.waiting, queueDropped: kernel.queueDropped, userDropped: kernel.userDropped },
      handlerDuration: this.#handlerDurations.snapshot(),
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
   * including `id` (NFQNL_MSG_VERDICT_BATCH); those packets then count as verdicted. A verdict
   * the kernel would refuse (see {@link Verdict}), a bad id or mark throws InvalidVerdictError
   * before anything is sent, and the packets keep waiting.
   */
  verdictBatch(id: number, verdict: number, options?: { mark?: number }): void {
    if (this.#closing) throw new QueueClosedError(this.queueNum);
    checkPacketId(id);
    checkVerdictValue(id, verdict);
    checkKeys(id, 'the verdictBatch options', options, ['mark']);
    const mark = options !== undefined && Object.hasOwn(options, 'mark') ? options.mark : undefined;
    if (mark !== undefined) checkVerdictMark(id, mark);
    this.#staging.encodeStaged(); // what was given before goes first: this batch must not cover it
    const covered: number[] = [];
    for (const [packetId, packet] of this.#held.packets) {
      if (((packetId - id) | 0) > 0) continue; // after `id`, compared with wrap-around as the kernel does
      covered.push(packetId);
      packet[markVerdictGiven]('batch');
      this.#release(packet);
    }
    const current = this.#held.waitingCurrent();
    if (current !== undefined && ((current.id - id) | 0) <= 0) {
      covered.push(current.id);
      current[markVerdictGiven]('batch');
    }
    this.#staging.appendBatch(id, verdict, mark, covered);
    this.#counters.verdicts.batch++;
    this.#scheduleFlush();
  }

  /**
   * Sends the collected verdicts now (normally automatic), in the order they were given. When
   * they all share one verdict and mark, carry nothing else, were given in id order, and no packet
   * with a lower id still waits, they go as a single VERDICT_BATCH message: the kernel then parses
   * one message instead of one per packet.
   */
  flush(): void {
    const staging = this.#staging;
    const upTo = staging.coalescibleUpTo();
    if (upTo >= 0 && this.#held.noneUpTo(upTo)) {
      staging.encodeAsBatch();
      this.#counters.coalescedFlushes++;
    } else {
      staging.encodeStaged();
    }
    const writer = staging.writer;
    if (writer.byteLength === 0) return;
    staging.records.recordSend();
    try {
      this.#native.sendVerdicts(writer.buffer, writer.byteLength);
    } catch (error) {
      this.#reportError(fromNativeError(error));
    } finally {
      writer.clear();
    }
  }

  /**
   * Closes gracefully, losing no packet; idempotent (every call returns the same promise). First
   * the kernel stops queueing to this socket (from then on new packets pass when `defaultVerdict`
   * is 'accept', or the kernel drops them when it is 'drop'); then receiving stops; packets
   * received but not yet handed to user code get the default verdict at once; the verdicts of
   * packets handlers hold are awaited up to `drainTimeout`, then the rest get the default; the
   * socket is read to the end and what it held is verdicted too, until the kernel shows nothing
   * waiting; then the queue unbinds and the socket closes.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    const deadline = performance.now() + this.#drainTimeout;
    if (this.#abort) this.#abort.signal.removeEventListener('abort', this.#abort.listener);
    // Leave a batch callback that may have called close() before joining the reader thread.
    await null;
    // First the kernel stops queueing to this socket: what arrives from now on passes
    // (defaultVerdict accept: fail-open with max length 0) or is dropped by the kernel (drop),
    // so the packets to verdict are only those already queued.
    try {
      this.#native.stopQueueing?.(this.#defaultVerdictName === 'accept');
    } catch {
      // The native close() below asks again, and its error rejects close().
    }
    const notHandedOver = this.#native.stopReceiving() ?? [];
    this.#control = undefined; // the reader stopped: overruns are read from the binding again
    for (const batch of notHandedOver) this.#onBatch(null, batch); // closing: packets are only tracked
    // Packets no user code has seen get the default verdict now.
    for (const batch of this.#unread.splice(0)) {
      for (const packet of batch) this.#giveDefault(packet, 'close');
    }
    for (const resolve of this.#waiters.splice(0)) resolve({ value: undefined, done: true });
    this.flush();
    if (this.#held.size > 0 && this.#drainTimeout > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#drained = undefined;
    }
    for (const packet of [...this.#held.packets.values()]) this.#giveDefault(packet, 'close');
    this.flush();
    // The socket still holds what was queued before the kernel stopped: read it all (it is
    // finite now) and verdict it, until the kernel shows nothing waiting for this socket.
    for (;;) {
      let pending: Buffer | null;
      try {
        pending = this.#native.receivePending();
      } catch {
        break; // the socket failed: the native close() below gives what waits its verdict
      }
      if (pending) {
        this.#onBatch(null, pending);
        for (const packet of [...this.#held.packets.values()]) this.#giveDefault(packet, 'close');
        this.flush();
        continue;
      }
      const waiting = this.#native.kernelWaiting?.() ?? 0;
      if (waiting === 0 || performance.now() >= deadline) break; // past the deadline, close() below sweeps the rest
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    clearTimeout(this.#timeoutTimer);
    openQueues.delete(this);
    // The queue's line leaves /proc as it unbinds: keep its last counters (the kernel queues
    // nothing more to this socket now, so its drops are final) for kernelStats() after close.
    try {
      this.#finalKernelStats = this.#readKernelStats();
    } catch {
      this.#finalKernelStats = undefined;
    }
    try {
      this.#native.close(); // gives whatever still waits the default verdict, then unbinds
    } catch (error) {
      throw fromNativeError(error);
    } finally {
      this.#unbound = true;
      this.emit('close');
    }
  }

  /** Iterates over packets as they arrive; ends when the queue closes. Leaving the loop early closes the queue. */
  [Symbol.asyncIterator](): AsyncIterator<Packet, undefined> {
    let current: Packet[] = [];
    let index = 0;
    // Not an async function: a packet of the batch in hand costs one settled promise, no more.
    const next = (): Promise<IteratorResult<Packet, undefined>> => {
      if (index < current.length) return Promise.resolve({ value: current[index++]!, done: false });
      return this.#nextBatch().then((batch) => {
        if (batch.done) return { value: undefined, done: true };
        current = batch.value;
        index = 0;
        return next();
      });
    };
    return {
      next,
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

  #appendVerdict(packet: Packet, verdict: number, changes: VerdictChanges | undefined): void {
    if (this.#closed && !this.#held.tracks(packet)) throw new QueueClosedError(this.queueNum);
    if (packet.queueNum !== this.queueNum) {
      throw new InvalidVerdictError(packet.id, `the packet came from queue ${packet.queueNum}, not queue ${this.queueNum}`);
    }
    const id = packet.id;
    if (changes === undefined) {
      this.#staging.stage(id, verdict, -1);
    } else if (changes.payload === undefined && changes.connmark === undefined && changes.connlabels === undefined) {
      // changes were checked by the packet (verdict-checks.ts)
      this.#staging.stage(id, verdict, changes.mark ?? -1);
    } else {
      this.#staging.appendChanged(id, verdict, changes);
    }
    countVerdict(this.#counters.verdicts, verdict);
    this.#release(packet);
    this.#scheduleFlush();
  }

  /** Gives `packet` the default verdict (if it has none), counted under `source`. */
  #giveDefault(packet: Packet, source: Exclude<VerdictSource, 'handler' | 'batch'>): void {
    if (packet.hasVerdict) return;
    this.#staging.stage(packet.id, this.#defaultVerdict, -1);
    countVerdict(this.#counters.verdicts, this.#defaultVerdict);
    const key = source === 'handler-error' ? 'handlerError' : source === 'cut-by-receiver' ? 'cutByReceiver' : source;
    this.#counters.defaultVerdicts[key]++;
    packet[markVerdictGiven](source);
    this.#release(packet);
    this.#scheduleFlush();
  }

  #release(packet: Packet): void {
    const freedBank = this.#held.release(packet);
    if (freedBank === NOT_HELD) return; // verdicted while its listeners ran: never held
    if (freedBank >= 0 && this.#bankStarved) this.#useFreedBank(freedBank);
    if (this.#held.size === 0) this.#drained?.();
    if (this.#paused) this.#updateBackpressure();
  }

  /** Bank `bank` holds no packet any more while reading waits for one: receive into it. */
  #useFreedBank(bank: number): void {
    this.#bankStarved = false;
    if (this.#control !== undefined) this.#control[CONTROL_NEXT_BANK] = bank;
    this.#updateBackpressure();
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

  /**
   * Pauses reading when too many packets are held, or when every receive bank holds one; resumes
   * below half the mark once a bank is free.
   */
  #updateBackpressure(): void {
    const held = this.#held.size;
    const full = held >= this.#highWaterMark;
    if (!this.#paused && (full || this.#bankStarved) && !this.#closing) {
      this.#paused = true;
      if (full) this.#counters.pauses++;
      this.#native.pause();
    } else if (this.#paused && ((held <= this.#highWaterMark >> 1 && !this.#bankStarved) || this.#closing)) {
      this.#paused = false;
      this.#native.resume();
    }
  }

  /**
   * What the batch being read needs per packet, in fields rather than closures so that a batch
   * allocates nothing but its packets (#onBatch is never re-entered: close() waits a microtask).
   */
  #batch = {
    /** The memory the batch lies in (a bank, or a batch of its own), its ArrayBuffer and offset. */
    bytes: EMPTY_BYTES as Uint8Array,
    arrayBuffer: EMPTY_BYTES.buffer as ArrayBufferLike,
    byteOffset: 0,
    /** The bank it lies in; -1 for a batch of its own (a reader thread's, or read at close). */
    bank: -1,
    /** performance.now() at arrival, or -1 without verdictTimeout. */
    now: -1,
    /** performance.now() after the last packet's listeners returned (or at the batch's start). */
    handledAt: 0,
    /** The batch's packets for the iterators; undefined when each goes to the 'packet' listeners as read. */
    packets: undefined as Packet[] | undefined,
    received: 0,
    /** Errors to report once the batch's verdicts are sent; allocated on the first. */
    errors: undefined as Error[] | undefined,
  };

  readonly #onPacketAt = (offset: number): void => {
    const batch = this.#batch;
    const packet = new Packet(batch.bytes, offset, batch.arrayBuffer, batch.byteOffset, this.#sink, batch.bank);
    batch.received++;
    if (batch.packets !== undefined) {
      this.#held.hold(packet, batch.now);
      batch.packets.push(packet);
    } else if (this.#closing) {
      this.#held.hold(packet, batch.now);
      this.#giveDefault(packet, 'close'); // a handler closed the queue mid-batch
    } else if (this.#packetListeners().length === 0) {
      // The last 'packet' listener went mid-batch: the rest of the batch goes to the iterators.
      this.#held.hold(packet, batch.now);
      batch.packets = [packet];
    } else {
      const held = this.#held;
      held.current = packet;
      this.#dispatch(packet);
      held.current = undefined;
      // One clock read per packet: its time runs from the end of the previous packet's listeners.
      const now = performance.now();
      this.#handlerDurations.observe(now - batch.handledAt);
      batch.handledAt = now;
      if (!packet.hasVerdict) this.#held.hold(packet, batch.now); // kept by its listener: tracked from now on
    }
  };

  readonly #onOtherMessageOfBatch = (message: DecodedMessage): void => this.#onOtherMessage(message);

  #collectError(error: Error): void {
    (this.#batch.errors ??= []).push(error);
  }

  /**
   * One received batch: `bytes` holds netlink messages back to back (a reader thread's batch, or
   * one read at close), or, with `bank` and `control` (the event-loop reader), is receive bank
   * `bank`, whose datagrams lie in slots and whose layout the control array gives.
   */
  #onBatch(error: Error | null, bytes: Uint8Array | null | undefined, bank?: number, control?: Int32Array): void {
    if (error) {
      this.#reportError(fromNativeError(error));
      return;
    }
    if (!bytes) {
      if (control !== undefined) this.#control = control;
      this.#checkOverruns(); // an overrun with nothing received, or a batch stopReceiving returned
      return;
    }
    const batch = this.#batch;
    batch.bytes = bytes;
    batch.arrayBuffer = bytes.buffer;
    batch.byteOffset = bytes.byteOffset;
    batch.bank = bank ?? -1;
    batch.now = this.#verdictTimeout === undefined ? -1 : performance.now();
    // With a 'packet' listener each packet goes to it as soon as it is read; otherwise the batch
    // goes to the iterators whole.
    batch.packets = this.#closing || this.listenerCount('packet') === 0 ? [] : undefined;
    batch.received = 0;
    batch.errors = undefined;
    if (batch.packets === undefined) batch.handledAt = performance.now();
    this.#counters.batches++;
    this.#dispatching = true;
    if (bank === undefined || control === undefined) {
      this.#readMessages(bytes, 0, bytes.length);
    } else {
      this.#control = control;
      this.#held.bankMade(bank);
      const slotSize = control[CONTROL_SLOT_SIZE]!;
      const count = control[CONTROL_COUNT]!;
      for (let i = 0; i < count; i++) {
        const length = control[CONTROL_LENGTHS + i]!;
        if (length > 0) this.#readMessages(bytes, i * slotSize, i * slotSize + length); // 0: skipped by the binding
      }
    }
    batch.bytes = EMPTY_BYTES;
    batch.arrayBuffer = EMPTY_BYTES.buffer;
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
    if (control !== undefined && !this.#closing) {
      const next = this.#held.nextBank(control[CONTROL_MAX_BANKS]!);
      if (next >= 0) control[CONTROL_NEXT_BANK] = next;
      else {
        this.#bankStarved = true; // read again once a bank frees (#release)
        this.#counters.memoryPauses++;
      }
    }
    this.#checkOverruns();
    this.#updateBackpressure();
    this.#armTimeout();
    if (errors !== undefined) for (const reported of errors) this.#reportError(reported);
  }

  /** Reads the messages in `bytes[start, end)`; a malformed one is reported and ends this range only. */
  #readMessages(bytes: Uint8Array, start: number, end: number): void {
    try {
      forEachPacketAt(bytes, start, end, this.#onPacketAt, this.#onOtherMessageOfBatch);
    } catch (decodeError) {
      this.#collectError(decodeError as Error); // the packets before the malformed message are kept
    }
  }

  /** The 'packet' listeners now (those `emit` would call), copied only when they changed. */
  #packetListeners(): Function[] {
    const live = (this as unknown as { _events?: Record<string | symbol, unknown> })._events?.packet;
    const known = this.#listeners;
    let same: boolean;
    if (typeof live === 'function') same = known.length === 1 && known[0] === live;
    else if (Array.isArray(live)) {
      same = known.length === live.length;
      for (let i = 0; same && i < known.length; i++) same = known[i] === live[i];
    }
    else same = live === undefined && known.length === 0 && this.listenerCount('packet') === 0;
    if (!same) this.#listeners = this.rawListeners('packet');
    return this.#listeners;
  }

  /**
   * Calls the 'packet' listeners with `packet`, as `emit` would (an async listener's rejection
   * is caught, as with `captureRejections`), without the array `emit` makes per call.
   */
  #dispatch(packet: Packet): void {
    const listeners = this.#packetListeners();
    try {
      for (let i = 0; i < listeners.length; i++) {
        const result: unknown = listeners[i]!.call(this, packet);
        if (result !== undefined && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.#onRejection(error, 'packet', packet));
        }
      }
    } catch (handlerError) {
      const alreadyVerdicted = packet.hasVerdict;
      this.#giveDefault(packet, 'handler-error');
      this.#collectError(new PacketHandlerError(packet.id, this.#defaultVerdictName, handlerError, alreadyVerdicted));
    }
  }

  /** EventEmitter calls this when an async 'packet' listener rejects (captureRejections). @internal */
  [Symbol.for('nodejs.rejection')](error: unknown, event: string, ...args: unknown[]): void {
    this.#onRejection(error, event, ...args);
  }

  #onRejection(error: unknown, event: string, ...args: unknown[]): void {
    const packet = event === 'packet' ? (args[0] as Packet) : undefined;
    if (packet) {
      const alreadyVerdicted = packet.hasVerdict;
      this.#giveDefault(packet, 'handler-error');
      this.#reportError(new PacketHandlerError(packet.id, this.#defaultVerdictName, error, alreadyVerdicted));
    } else {
      this.#reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #onOtherMessage(message: DecodedMessage): void {
    if (message.type === 'packetCutByReceiver') {
      // Cut by the receiver: only the id is known. It still gets a verdict: the default one.
      this.#staging.stage(message.id, this.#defaultVerdict, -1);
      countVerdict(this.#counters.verdicts, this.#defaultVerdict);
      this.#counters.defaultVerdicts.cutByReceiver++;
    } else if (message.type === 'error' && message.error.errno !== 0) {
      const rejected = this.#onRejected(message); // counts what the refusal stands for
      if (rejected !== undefined) this.#collectError(rejected);
    } else if (message.type === 'other') {
      this.#counters.otherMessages++; // counted and ignored: never fatal
    }
  }

  #checkOverruns(): void {
    // The event-loop reader keeps the count (mod 2^32) in the control array: no call per batch.
    const control = this.#control;
    const count =
      control === undefined ? this.#native.overrunCount - this.#counters.overruns : (control[CONTROL_OVERRUNS]! - this.#counters.overruns) >>> 0;
    if (count > 0) {
      const total = (this.#counters.overruns += count);
      this.emit('overrun', { count, total });
    }
  }

  /** Keeps one timer, due when the oldest held packet's verdictTimeout passes. */
  #armTimeout(): void {
    const timeout = this.#verdictTimeout;
    if (timeout === undefined || this.#timeoutTimer !== undefined || this.#closing) return;
    const oldest = this.#held.arrivedAt.values().next();
    if (oldest.done) return;
    const due = Math.max(0, oldest.value + timeout - performance.now());
    this.#timeoutTimer = setTimeout(() => {
      this.#timeoutTimer = undefined;
      const now = performance.now();
      for (const [id, arrived] of this.#held.arrivedAt) {
        if (arrived + timeout > now) break; // oldest first: the rest are younger
        const packet = this.#held.packets.get(id);
        if (!packet) continue;
        this.#counters.timeouts++;
        this.#giveDefault(packet, 'timeout');
        this.emit('timeout', packet);
      }
      this.#armTimeout();
    }, due);
    this.#timeoutTimer.unref();
  }

  /**
   * Reports an error on 'error'; with no listener, as a process warning (at most one a second per
   * code, with a count of those left out) rather than EventEmitter's uncaught exception: a bug in
   * a handler must not stop the traffic of every other packet.
   */
  #reportError(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else {
      reportUnheard(error, this.queueNum);
    }
  }

  /**
   * What a refusal by the kernel means for the packets the refused message covered (read from the
   * echoed request: its type, its sequence number, its verdict header), and counts it. Most errors
   * refuse one message: its packets did not get that verdict, so they get the default verdict now,
   * once. A refused default verdict is reported and not resent; ENOENT (no such packet waiting)
   * needs nothing. EPERM is different: nfnetlink checks CAP_NET_ADMIN once per send and, when it
   * is missing, answers only the send's first message and drops the others unanswered. So every
   * message of that send was refused: one error names them all, and nothing is resent (it would be
   * refused too). Undefined for a refusal already counted with its send.
   */
  #onRejected(message: Extract<DecodedMessage, { type: 'error' }>): VerdictRejectedError | undefined {
    const decoded = message.error;
    const code = decoded.code ?? errnoName(decoded.errno);
    const { type, seq } = decoded.request;
    let packetId: number | undefined;
    const request = decoded.requestBytes;
    if (request && request.length > NLMSG_HDRLEN + 4) {
      const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
      forEachAttribute(view, NLMSG_HDRLEN + 4, request.length, (attribute, offset, length) => {
        if (attribute === NFQA_VERDICT_HDR && length === 8) packetId = view.getUint32(offset + 4);
      });
    }
    const batch = type === nfqMessageType(NFQNL_MSG_VERDICT_BATCH);
    const counters = this.#counters;
    if (code === 'EPERM') return this.#onSendRefused(decoded, packetId, batch);
    counters.verdictsRejected++;
    const resent = (seq & RESENT_SEQ) !== 0;
    let packetIds: number[] | undefined;
    if (batch) {
      packetIds = this.#staging.records.takeBatchRecord(seq);
    } else if (type === nfqMessageType(NFQNL_MSG_VERDICT) && packetId !== undefined) {
      packetIds = [packetId];
    }
    const details = { packetIds, batch, defaultVerdict: this.#defaultVerdictName };
    const refusal = (outcome: VerdictRejectionOutcome): VerdictRejectedError =>
      new VerdictRejectedError(decoded.errno, code, packetId, decoded.extAckMessage, { ...details, outcome });
    if (code === 'ENOENT') return refusal('not-waiting');
    if (resent) {
      if (packetIds !== undefined) counters.packetsRejected += packetIds.length;
      return refusal('default-verdict-refused');
    }
    if (packetIds === undefined || packetIds.length === 0 || (seq === 0 && !batch)) return refusal('unknown');
    for (const id of packetIds) {
      this.#staging.appendResent(id, this.#defaultVerdict);
      countVerdict(counters.verdicts, this.#defaultVerdict);
      counters.defaultVerdicts.rejected++;
    }
    this.#scheduleFlush();
    return refusal('default-verdict-sent');
  }

  /**
   * An EPERM refusal: every message of the send that carried the answered one was refused. Counts
   * them and the packets they covered (as far as remembered) once; a later answer about the same
   * send (the kernel answers each message when the refusal is per message) is already counted.
   */
  #onSendRefused(decoded: Extract<DecodedMessage, { type: 'error' }>['error'], packetId: number | undefined, batch: boolean): VerdictRejectedError | undefined {
    const seq = decoded.request.seq & MAX_SEQ;
    const records = this.#staging.records;
    const packetIds: number[] = [];
    const sent = records.takeRefusedSend(seq, packetIds);
    if (sent === SEND_ALREADY_REFUSED) return undefined;
    let refusedMessages: number | undefined;
    if (sent !== SEND_UNKNOWN) {
      refusedMessages = sent;
    } else {
      if (seq !== 0) records.takePacketIds(seq, packetIds); // a send no longer remembered: this message only
      if (packetIds.length === 0 && !batch && packetId !== undefined) packetIds.push(packetId);
    }
    this.#counters.verdictsRejected += refusedMessages ?? 1;
    this.#counters.packetsRejected += packetIds.length;
    return new VerdictRejectedError(decoded.errno, 'EPERM', packetId, decoded.extAckMessage, {
      packetIds,
      batch,
      outcome: 'send-refused',
      defaultVerdict: this.#defaultVerdictName,
      refusedMessages,
    });
  }

  /**
   * This queue's line of `/proc/net/netfilter/nfnetlink_queue` (waiting packets, kernel drops...);
   * after close(), the queue's last line, read just before it unbound (undefined if that read failed).
   */
  kernelStats(): KernelQueueStats | undefined {
    if (this.#unbound) return this.#finalKernelStats;
    return this.#readKernelStats();
  }

  #readKernelStats(): KernelQueueStats | undefined {
    const row = readBoundQueues(this.#binding, this.netns).find((bound) => bound.queue === this.queueNum);
    return row && kernelQueueStats(row);
  }
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
  // Bun and Deno receive on a reader thread only (see runtime.ts).
  const readerThread = effectiveReaderThread(nativeOptions.readerThread);
  if (readerThread !== undefined) nativeOptions.readerThread = readerThread;
  let native: NativeQueue;
  try {
    native = binding.NativeQueue.open(nativeOptions);
  } catch (error) {
    throw fromNativeError(error);
  }
  return new Queue(native, binding, options);
}


import { EventEmitter } from 'node:events';
import {
  NFQA_VERDICT_HDR,
  NFQNL_MSG_PACKET,
  NF_ACCEPT,
  NF_DROP,
  NF_REPEAT,
  NF_STOP,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  VerdictWriter,
  forEachAttribute,
  iterateMessages,
  nfqMessageType,
  parseError,
  parsePacket,
  queueVerdict,
} from '@nfq/netlink';
import { QueueClosedError, VerdictRejectedError } from './errors.js';
import {
  type NativeBinding,
  type NativeQueue,
  type NativeQueueOptions,
  type NativeQueueStats,
  loadNativeBinding,
} from './native.js';
import { Packet, type VerdictChanges, type VerdictSink, markVerdictGiven } from './packet.js';

const PACKET_MESSAGE_TYPE = nfqMessageType(NFQNL_MSG_PACKET);

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

/** Options of {@link openQueue}: the native options plus the queue's own policy. */
export interface QueueOptions extends NativeQueueOptions {
  /** Verdict given to every packet still waiting when the queue closes (default 'accept'). */
  defaultVerdict?: 'accept' | 'drop';
}

/** What {@link openQueue} is built on; tests pass a fake binding here. */
export interface QueueDependencies {
  /** The native module; by default the napi binding in `native/`. */
  binding?: NativeBinding;
}

/** Events of a {@link Queue}. */
export interface QueueEvents {
  /** A packet arrived (only while a listener is attached; otherwise packets go to the async iterator). */
  packet: [packet: Packet];
  /** A handler threw, the kernel refused a verdict, or receiving failed. */
  error: [error: Error];
  /** The queue closed; every packet has its verdict. */
  close: [];
}

/**
 * A bound NFQUEUE queue. Receive packets either with `queue.on('packet', handler)` or with
 * `for await (const packet of queue)`; give each exactly one verdict.
 *
 * Verdicts are collected in one buffer and sent in one native call: once after each received
 * batch has been handled, and in a microtask for verdicts given later (held packets).
 */
export class Queue extends EventEmitter<QueueEvents> implements AsyncIterable<Packet> {
  /** The bound queue number. */
  readonly queueNum: number;
  /** The socket's netlink port id. */
  readonly portId: number;
  readonly #native: NativeQueue;
  readonly #defaultVerdict: number;
  readonly #writer = new VerdictWriter();
  readonly #outstanding = new Map<number, Packet>();
  readonly #buffered: Packet[] = [];
  readonly #waiters: Array<(result: IteratorResult<Packet, undefined>) => void> = [];
  readonly #sink: VerdictSink;
  #dispatching = false;
  #flushScheduled = false;
  #closing = false;
  #closed: Promise<void> | undefined;

  /** Wraps an opened native queue and starts receiving; use {@link openQueue}. @internal */
  constructor(native: NativeQueue, options: QueueOptions) {
    super();
    this.#native = native;
    this.queueNum = native.queueNum;
    this.portId = native.portId;
    this.#defaultVerdict = options.defaultVerdict === 'drop' ? NF_DROP : NF_ACCEPT;
    this.#sink = { appendVerdict: (packet, verdict, changes) => this.#appendVerdict(packet, verdict, changes) };
    native.start((error, batch) => this.#onBatch(error ?? null, batch));
  }

  /** Packets received that have no verdict yet. */
  get outstandingCount(): number {
    return this.#outstanding.size;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** Counters of the native side. */
  stats(): NativeQueueStats {
    return this.#native.stats();
  }

  /**
   * Gives one verdict (and optionally a mark) to every waiting packet with an id up to and
   * including `id` (NFQNL_MSG_VERDICT_BATCH); those packets then count as verdicted.
   */
  verdictBatch(id: number, verdict: number, options?: { mark?: number }): void {
    if (this.#closing) throw new QueueClosedError(this.queueNum);
    this.#writer.appendVerdictBatch({ queue: this.queueNum, id, verdict, mark: options?.mark });
    for (const [packetId, packet] of this.#outstanding) {
      if (((packetId - id) | 0) > 0) continue; // after `id`, compared with wrap-around as the kernel does
      packet[markVerdictGiven]();
      this.#outstanding.delete(packetId);
    }
    this.#scheduleFlush();
  }

  /** Sends the collected verdicts now (normally automatic). */
  flush(): void {
    if (this.#writer.byteLength === 0) return;
    const messages = this.#writer.bytes();
    try {
      this.#native.sendVerdicts(messages);
    } catch (error) {
      this.#reportError(error as Error);
    } finally {
      this.#writer.clear();
    }
  }

  /**
   * Stops receiving, gives the default verdict to every packet still waiting, sends the
   * verdicts and closes the socket. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closing = true;
    this.#closed = (async () => {
      // Leave a batch callback that may have called close() before joining the reader thread.
      await null;
      const notHandedOver = this.#native.stopReceiving() ?? [];
      for (const batch of notHandedOver) this.#onBatch(null, batch); // closing: packets are only tracked
      for (const packet of this.#outstanding.values()) {
        this.#writer.appendVerdict({ queue: this.queueNum, id: packet.id, verdict: this.#defaultVerdict });
        packet[markVerdictGiven]();
      }
      this.#outstanding.clear();
      this.#buffered.length = 0;
      this.flush();
      this.#native.close(); // returns nothing more: the reader was stopped above
      for (const resolve of this.#waiters.splice(0)) resolve({ value: undefined, done: true });
      this.emit('close');
    })();
    return this.#closed;
  }

  /** Iterates over packets as they arrive; ends when the queue closes. Leaving the loop early closes the queue. */
  [Symbol.asyncIterator](): AsyncIterator<Packet, undefined> {
    return {
      next: () => {
        const packet = this.#buffered.shift();
        if (packet) return Promise.resolve({ value: packet, done: false });
        if (this.#closing) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  #appendVerdict(packet: Packet, verdict: number, changes: VerdictChanges | undefined): void {
    this.#writer.appendVerdict({
      queue: this.queueNum,
      id: packet.id,
      verdict,
      mark: changes?.mark,
      payload: changes?.payload,
      connmark: changes?.connmark,
    });
    this.#outstanding.delete(packet.id);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#dispatching || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  #onBatch(error: Error | null, batch: Buffer | null | undefined): void {
    if (error) {
      this.#reportError(error);
      return;
    }
    if (!batch) return; // no batch (null or undefined): stopReceiving already returned it
    const errors: Error[] = [];
    this.#dispatching = true;
    try {
      for (const message of iterateMessages(batch)) {
        if (message.type === PACKET_MESSAGE_TYPE) {
          this.#receivePacket(new Packet(parsePacket(message.bytes), this.#sink), errors);
        } else if (message.type === NLMSG_ERROR) {
          const rejection = verdictRejection(message.bytes);
          if (rejection) errors.push(rejection);
        }
      }
    } catch (decodeError) {
      errors.push(decodeError as Error);
    } finally {
      this.#dispatching = false;
      this.flush();
    }
    for (const reported of errors) this.#reportError(reported);
  }

  #receivePacket(packet: Packet, errors: Error[]): void {
    this.#outstanding.set(packet.id, packet);
    if (this.#closing) return; // gets the default verdict in close()
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter({ value: packet, done: false });
    } else if (this.listenerCount('packet') > 0) {
      try {
        this.emit('packet', packet);
      } catch (handlerError) {
        if (!packet.hasVerdict) {
          this.#appendVerdict(packet, this.#defaultVerdict, undefined);
          packet[markVerdictGiven]();
        }
        errors.push(handlerError as Error);
      }
    } else {
      this.#buffered.push(packet);
    }
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
}

/** The kernel's refusal of a verdict, or undefined for an acknowledgement. */
function verdictRejection(message: Uint8Array): VerdictRejectedError | undefined {
  const decoded = parseError(message);
  if (decoded.errno === 0) return undefined;
  let packetId: number | undefined;
  const request = decoded.requestBytes;
  if (request && request.length > NLMSG_HDRLEN + 4) {
    const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
    forEachAttribute(view, NLMSG_HDRLEN + 4, request.length, (type, offset, length) => {
      if (type === NFQA_VERDICT_HDR && length === 8) packetId = view.getUint32(offset + 4);
    });
  }
  return new VerdictRejectedError(decoded.errno, decoded.code ?? 'EUNKNOWN', packetId, decoded.extAckMessage);
}

/**
 * Binds queue `options.queue` and starts receiving. Rejects with the native error (`err.code`
 * the errno name, `err.kind` e.g. 'PermissionDenied' or 'AlreadyBound') when binding fails.
 */
export async function openQueue(options: QueueOptions, dependencies: QueueDependencies = {}): Promise<Queue> {
  const binding = dependencies.binding ?? loadNativeBinding();
  const { defaultVerdict: _defaultVerdict, ...nativeOptions } = options;
  const native = binding.NativeQueue.open(nativeOptions);
  return new Queue(native, options);
}

import {
  NFQA_CT,
  NFQA_MARK,
  NFQA_PAYLOAD,
  NFQA_VERDICT_HDR,
  NLMSG_HDRLEN,
  forEachAttribute,
  iterateMessages,
} from '@nfq/netlink';
const PACKET_TYPE = (3 << 8) | 0;
const BATCH_TYPE = (3 << 8) | 3;

import { readFileSync } from 'node:fs';
import { OPTION_LIMITS } from '../src/option-limits.js';
import type { NativeBinding, NativeBoundQueue, NativeQueue, NativeQueueError, NativeQueueOptions, NativeQueueStats } from '../src/index.js';

/**
 * An error shaped as the binding makes every error it throws or passes to `onBatch`: `code` the
 * errno name (or ERR_*), `kind` the cause, `errno`, and what the cause knows (`option`, ...).
 */
export function nativeError(message: string, fields: { code: string; kind: string; errno?: number } & Record<string, unknown>): NativeQueueError {
  return Object.assign(new Error(message), fields);
}

/**
 * A stand-in for the napi NativeQueue: no socket, no kernel. Tests push batches with
 * {@link deliver} and read what the queue sent from {@link sent}.
 */
export class FakeNativeQueue implements NativeQueue {
  /** Every sendVerdicts call, copied (the queue reuses its buffer). */
  readonly sent: Uint8Array[] = [];
  /** Calls in the order they happened, for ordering assertions. */
  readonly calls: string[] = [];
  readonly options: NativeQueueOptions;
  readonly portId = 4242;
  #onBatch: ((err: Error | null, batch?: Buffer | null) => void) | undefined;
  #notHandedOver: Buffer[] = [];
  #receiving = false;
  #closed = false;
  #batches = 0;
  #messages = 0;
  /** Overruns the fake reports in stats(); tests raise it to simulate ENOBUFS. */
  overruns = 0;
  /** True while the queue asked the reader to pause. */
  paused = false;
  /** What receivePending hands out after stopReceiving (what the socket still held). */
  readonly pendingInSocket: Buffer[] = [];
  /**
   * The verdicts as the kernel applies them, one per packet, in order: a VERDICT_BATCH message
   * is expanded to every waiting packet up to its id, as nfnetlink_queue does.
   */
  readonly verdicts: Array<{ id: number; verdict: number; mark?: number; batch?: true }> = [];
  /** Ids handed to the queue and not yet verdicted, in order (the kernel's queue). */
  readonly #waiting: number[] = [];

  /** Notes the packet ids of a batch handed to the queue. */
  #track(batch: Buffer): Buffer {
    try {
      for (const message of iterateMessages(batch)) {
        if (message.type === PACKET_TYPE) this.#waiting.push(new DataView(message.bytes.buffer, message.bytes.byteOffset).getUint32(24));
      }
    } catch {
      // A deliberately malformed batch: track what came before the fault, as the queue does.
    }
    return batch;
  }

  constructor(options: NativeQueueOptions) {
    this.options = options;
  }

  get queueNum(): number {
    return this.options.queue;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  start(onBatch: (err: Error | null, batch?: Uint8Array | null, bank?: number, control?: Int32Array) => void): void {
    this.calls.push('start');
    this.#onBatch = onBatch;
    this.#receiving = true;
  }

  /** Hands the concatenated messages to the queue as one batch, as the reader thread would. */
  deliver(...messages: Uint8Array[]): void {
    if (!this.#receiving || !this.#onBatch) throw new Error('fake: not receiving');
    const batch = this.#track(Buffer.concat(messages.map((message) => Buffer.from(message))));
    this.#batches++;
    this.#messages += messages.length;
    this.#onBatch(null, batch);
  }

  /** Receives a batch that waits for JavaScript: stopReceiving returns it instead of onBatch. */
  receiveWithoutHandingOver(...messages: Uint8Array[]): void {
    this.#notHandedOver.push(this.#track(Buffer.concat(messages.map((message) => Buffer.from(message)))));
  }

  /** Calls onBatch with no batch (null, as napi passes a Rust None), as the binding does for a batch stopReceiving already returned. */
  notifyWithoutBatch(): void {
    this.#onBatch?.(null, null);
  }

  /** Hands an error to the queue, as the binding does on a failed receive (an EIO by default). */
  fail(error: Error = nativeError('receive from queue: Input/output error (EIO)', { code: 'EIO', kind: 'Io', errno: 5 })): void {
    this.#onBatch?.(error, null);
  }

  sendVerdicts(given: Uint8Array, length?: number): void {
    if (this.#closed) throw nativeError('the queue is closed', { code: 'EBADF', kind: 'Closed', errno: 9 });
    const messages = given.subarray(0, length ?? given.length);
    this.calls.push('sendVerdicts');
    this.sent.push(Uint8Array.from(messages));
    for (const sent of decodeVerdicts(messages)) {
      if (sent.type === BATCH_TYPE) {
        const covered = this.#waiting.filter((id) => ((id - sent.id) | 0) <= 0);
        for (const id of covered) this.verdicts.push({ id, verdict: sent.verdict, ...(sent.mark === undefined ? {} : { mark: sent.mark }), batch: true });
        this.#waiting.splice(0, this.#waiting.length, ...this.#waiting.filter((id) => !covered.includes(id)));
      } else {
        this.verdicts.push({ id: sent.id, verdict: sent.verdict, ...(sent.mark === undefined ? {} : { mark: sent.mark }) });
        const at = this.#waiting.indexOf(sent.id);
        if (at >= 0) this.#waiting.splice(at, 1);
      }
    }
  }

  get overrunCount(): number {
    return this.overruns;
  }

  stats(): NativeQueueStats {
    return { overruns: this.overruns, batches: this.#batches, messages: this.#messages, cutByReceiver: 0, verdictsSent: 0, verdictSends: this.sent.length };
  }

  pause(): void {
    this.calls.push('pause');
    this.paused = true;
  }

  resume(): void {
    this.calls.push('resume');
    this.paused = false;
  }

  /** What stopQueueing was asked: true accept, false drop, undefined not called. */
  stoppedQueueing: boolean | undefined;

  stopQueueing(accept: boolean): void {
    this.calls.push(`stopQueueing:${accept ? 'accept' : 'drop'}`);
    this.stoppedQueueing = accept;
  }

  /** Packets handed to the queue and not verdicted yet, plus what the socket still holds. */
  kernelWaiting(): number {
    return this.#waiting.length + this.pendingInSocket.length;
  }

  receivePending(): Buffer | null {
    if (this.#receiving && this.options.readerThread === true) {
      throw nativeError('stop receiving first: the reader thread owns the socket', { code: 'EINVAL', kind: 'InvalidArgument', errno: 22, option: 'receivePending' });
    }
    const batch = this.pendingInSocket.shift();
    return batch === undefined ? null : this.#track(batch);
  }

  interfaces(): Array<{ index: number; name: string }> {
    return [
      { index: 1, name: 'lo' },
      { index: 2, name: 'eth0' },
    ];
  }

  stopReceiving(): Buffer[] {
    this.calls.push('stopReceiving');
    this.#receiving = false;
    return this.#notHandedOver.splice(0);
  }

  close(): Buffer[] {
    this.calls.push('close');
    this.#receiving = false;
    this.#closed = true;
    return this.#notHandedOver.splice(0);
  }
}

/** This process's name as the kernel knows it, which the binding gives as the holder's command. */
const THIS_COMMAND = readFileSync('/proc/self/comm', 'utf8').trim();

/** A fake binding whose `open` refuses a queue number that an open fake queue holds, as the kernel does. */
export function createFakeBinding(): { binding: NativeBinding; opened: FakeNativeQueue[] } {
  const opened: FakeNativeQueue[] = [];
  const binding: NativeBinding = {
    NativeQueue: {
      open(options: NativeQueueOptions): NativeQueue {
        if (opened.some((queue) => queue.queueNum === options.queue && !queue.isClosed)) {
          throw nativeError(
            `queue ${options.queue} is already bound by this process (pid ${process.pid}, netlink port id 4242): use the queue already open, or close it before opening the queue again (EPERM)`,
            { code: 'EPERM', kind: 'AlreadyBound', errno: 1, queue: options.queue, ownerPid: process.pid, ownerPortId: 4242, ownerCommand: THIS_COMMAND },
          );
        }
        const { min, max, what } = OPTION_LIMITS.receiveBufferSize;
        if (options.receiveBufferSize !== undefined && options.receiveBufferSize > max) {
          throw nativeError(`must be ${what} from ${min} to ${max}, got ${options.receiveBufferSize}`, {
            code: 'EINVAL',
            kind: 'InvalidArgument',
            errno: 22,
            option: 'receiveBufferSize',
          });
        }
        const queue = new FakeNativeQueue(options);
        opened.push(queue);
        return queue;
      },
    },
    boundQueues: (netns) => {
      if (netns === 'nosuch') {
        throw nativeError('read /proc/net/netfilter/nfnetlink_queue: network namespace nosuch does not exist (ENOENT): list them with `ip netns list`, create one with `ip netns add NAME`', {
          code: 'ENOENT',
          kind: 'NamespaceNotFound',
          errno: 2,
        });
      }
      if (netns === 'unloaded') {
        throw nativeError('read /proc/net/netfilter/nfnetlink_queue failed (ENOENT): No such file or directory (os error 2)', { code: 'ENOENT', kind: 'Io', errno: 2 });
      }
      return opened.filter((queue) => !queue.isClosed).map((queue) => boundQueue(queue.queueNum, queue.portId));
    },
    dropPrivileges: (user) => {
      throw nativeError(`there is no user named '${user}' (see /etc/passwd, or \`getent passwd ${user}\`) (ENOENT)`, {
        code: 'ENOENT',
        kind: 'UserNotFound',
        errno: 2,
        user,
      });
    },
  };
  return { binding, opened };
}

/** A row of the kernel's queue table, as the binding's `boundQueues` gives it (9 ids handed out). */
export function boundQueue(queue: number, portId: number, fields: Partial<NativeBoundQueue> = {}): NativeBoundQueue {
  return { queue, portId, waiting: 0, copyMode: 2, copyRange: 65535, queueDropped: 0, userDropped: 0, idSequence: 9, ...fields };
}

/** One verdict message decoded back from sent bytes. */
export interface SentVerdict {
  type: number;
  queue: number;
  verdict: number;
  id: number;
  mark?: number;
  payload?: number[];
  hasCt?: boolean;
}

/** Decodes every verdict message of one sendVerdicts call. */
export function decodeVerdicts(sent: Uint8Array): SentVerdict[] {
  return [...iterateMessages(sent)].map((message) => {
    const view = new DataView(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
    const decoded: SentVerdict = { type: message.type, queue: view.getUint16(18), verdict: -1, id: -1 };
    forEachAttribute(view, NLMSG_HDRLEN + 4, message.length, (type, offset, length) => {
      if (type === NFQA_VERDICT_HDR) {
        decoded.verdict = view.getUint32(offset);
        decoded.id = view.getUint32(offset + 4);
      } else if (type === NFQA_MARK) {
        decoded.mark = view.getUint32(offset);
      } else if (type === NFQA_PAYLOAD) {
        decoded.payload = [...message.bytes.subarray(offset, offset + length)];
      } else if (type === NFQA_CT) {
        decoded.hasCt = true;
      }
    });
    return decoded;
  });
}

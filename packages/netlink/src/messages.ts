import { NFQNL_MSG_PACKET, NLMSG_DONE, NLMSG_ERROR, NLM_F_NFQ_CUT_BY_RECEIVER, nfqMessageType } from './constants.js';
import { type NetlinkErrorMessage, decodeErrorMessageAt } from './error-message.js';
import { type NetlinkHeader, checkedMessageLength, readHeaderAt } from './header.js';
import { PacketView, packetIdOfCutMessage } from './packet.js';
import { align4, readU16Big, readU16Host } from './wire.js';
import { NFGEN_RES_ID_AT, NLMSG_FLAGS_AT, NLMSG_TYPE_AT } from './layout.js';

/** `nlmsg_type` of NFQNL_MSG_PACKET. */
const PACKET_MESSAGE_TYPE = nfqMessageType(NFQNL_MSG_PACKET);

/** One message found in a buffer of many. */
export interface NetlinkMessage extends NetlinkHeader {
  /** Byte offset of the message in the buffer that was iterated. */
  readonly offset: number;
  /** The message's bytes, header included (a view into the buffer: no copy). */
  readonly bytes: Uint8Array;
}

/**
 * Yields each netlink message of a buffer that holds one or many (a received batch), with its
 * header, without decoding its body.
 *
 * Each message's `bytes` is a view into `buffer`. Throws {@link NetlinkDecodeError} with the
 * offset of the bad header when fewer than 16 bytes remain (`TRUNCATED_HEADER`), when a length is
 * below 16 (`BAD_MESSAGE_LENGTH`) or when it runs past the end of the buffer (`MESSAGE_OVERRUN`).
 * Every message advances the position by at least 16 bytes, so iteration always ends.
 */
export function* iterateMessages(buffer: Uint8Array): Generator<NetlinkMessage, void, undefined> {
  let offset = 0;
  while (offset < buffer.length) {
    const length = checkedMessageLength(buffer, offset, buffer.length);
    yield { ...readHeaderAt(buffer, offset), offset, bytes: buffer.subarray(offset, offset + length) };
    // The last message of a buffer may lack its padding: the loop ends all the same.
    offset += align4(length);
  }
}

/** An NFQNL_MSG_PACKET message: a queued packet waiting for its verdict. */
export interface DecodedPacket {
  /** Discriminant. */
  readonly type: 'packet';
  /** Zero-copy view of the message. */
  readonly packet: PacketView;
}

/**
 * An NFQNL_MSG_PACKET message that nfq-core had to cut because it did not fit its receive buffer
 * (flag {@link NLM_F_NFQ_CUT_BY_RECEIVER}): only its queue and id are known. It still needs a
 * verdict.
 */
export interface DecodedPacketCutByReceiver {
  /** Discriminant. */
  readonly type: 'packetCutByReceiver';
  /** Queue number (nfgenmsg.res_id). */
  readonly queue: number;
  /** Packet id, from the first NFQA_PACKET_HDR. */
  readonly id: number;
}

/** An NLMSG_ERROR message: an acknowledgement (errno 0) or a refused request. */
export interface DecodedError {
  /** Discriminant. */
  readonly type: 'error';
  /** The decoded error message. */
  readonly error: NetlinkErrorMessage;
}

/** An NLMSG_DONE message: the end of a multipart answer. */
export interface DecodedDone {
  /** Discriminant. */
  readonly type: 'done';
}

/** Any other message, passed through undecoded. */
export interface DecodedOther {
  /** Discriminant. */
  readonly type: 'other';
  /** Its `nlmsg_type`. */
  readonly messageType: number;
  /** Its `nlmsg_len`. */
  readonly length: number;
  /** Its bytes, header included (a view into the batch, not a copy). */
  readonly bytes: Uint8Array;
}

/** @deprecated Renamed {@link DecodedPacketCutByReceiver}; its `type` is now `'packetCutByReceiver'`. */
export type DecodedTruncatedPacket = DecodedPacketCutByReceiver;

/** One message of a batch, decoded by its type; switch on `type`. */
export type DecodedMessage = DecodedPacket | DecodedPacketCutByReceiver | DecodedError | DecodedDone | DecodedOther;

/** The one NLMSG_DONE value: it carries nothing, so every done message shares it. */
const DONE: DecodedDone = Object.freeze({ type: 'done' });

/**
 * Decodes a received batch (messages back to back, each padded to 4) message by message, in
 * order, yielding each as a {@link DecodedMessage}:
 *
 * - NFQNL_MSG_PACKET: `packet` (a {@link PacketView}); when flagged {@link NLM_F_NFQ_CUT_BY_RECEIVER}
 *   and its packet id can be read, `packetCutByReceiver` instead.
 * - NLMSG_ERROR: `error`; NLMSG_DONE: `done`; any other type: `other`.
 *
 * Decoding stops at the first malformed message by throwing {@link NetlinkDecodeError}, whose
 * offset counts from the start of `batch`; the messages before it have been yielded, and the
 * iterator yields nothing after it. Nothing is copied: views point into `batch`, which must not
 * be overwritten while they are in use.
 *
 * ```ts
 * for (const message of decodeMessages(batch)) {
 *   if (message.type === 'packet') console.log(message.packet.id, message.packet.payload?.length);
 * }
 * ```
 */
export function decodeMessages(batch: Uint8Array): IterableIterator<DecodedMessage> {
  return new BatchDecoder(batch);
}

/**
 * The iterator behind {@link decodeMessages}: a plain class rather than a generator, so that V8
 * can inline `next` into the caller's loop and drop the iterator-result objects.
 */
class BatchDecoder implements IterableIterator<DecodedMessage> {
  readonly #batch: Uint8Array;
  readonly #arrayBuffer: ArrayBufferLike;
  readonly #byteOffset: number;
  readonly #end: number;
  #offset = 0;

  constructor(batch: Uint8Array) {
    this.#batch = batch;
    this.#arrayBuffer = batch.buffer;
    this.#byteOffset = batch.byteOffset;
    this.#end = batch.length;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<DecodedMessage, undefined> {
    const offset = this.#offset;
    const end = this.#end;
    if (offset >= end) return { done: true, value: undefined };
    this.#offset = end; // sticky: after a throw, the iterator is done
    const batch = this.#batch;
    const length = checkedMessageLength(batch, offset, end);
    const message = decodeMessageAt(batch, offset, length, this.#arrayBuffer, this.#byteOffset);
    this.#offset = offset + align4(length);
    return { done: false, value: message };
  }
}

/** Decodes the message of `length` bytes at `offset` of `batch` (framing already checked). */
function decodeMessageAt(
  batch: Uint8Array,
  offset: number,
  length: number,
  arrayBuffer: ArrayBufferLike,
  byteOffset: number,
): DecodedMessage {
  const type = readU16Host(batch, offset + NLMSG_TYPE_AT);
  if (type === PACKET_MESSAGE_TYPE) {
    const id = (readU16Host(batch, offset + NLMSG_FLAGS_AT) & NLM_F_NFQ_CUT_BY_RECEIVER) !== 0 ? packetIdOfCutMessage(batch, offset, length) : -1;
    return id >= 0
      ? { type: 'packetCutByReceiver', queue: readU16Big(batch, offset + NFGEN_RES_ID_AT), id }
      : { type: 'packet', packet: new PacketView(batch, offset, arrayBuffer, byteOffset) };
  }
  if (type === NLMSG_ERROR) return { type: 'error', error: decodeErrorMessageAt(batch, offset, length) };
  if (type === NLMSG_DONE) return DONE;
  return { type: 'other', messageType: type, length, bytes: batch.subarray(offset, offset + length) };
}

/**
 * The fastest way through a batch: calls `onPacket` with a {@link PacketView} for every packet
 * message, and `onOther` (when given) with every other message decoded as {@link decodeMessages}
 * would (a cut packet, an error, done, other). No wrapper object and no iterator result per
 * packet. Throws {@link NetlinkDecodeError} at the first malformed message, after the callbacks
 * for the messages before it.
 *
 * ```ts
 * forEachPacket(batch, (packet) => verdicts.push(packet.id), (message) => console.log(message.type));
 * ```
 */
export function forEachPacket(
  batch: Uint8Array,
  onPacket: (packet: PacketView) => void,
  onOther?: (message: DecodedMessage) => void,
): void {
  const arrayBuffer = batch.buffer;
  const byteOffset = batch.byteOffset;
  forEachPacketAt(batch, 0, batch.length, (offset) => onPacket(new PacketView(batch, offset, arrayBuffer, byteOffset)), onOther);
}

/**
 * {@link forEachPacket} over the messages in `batch[start, end)`, handing over the offset in
 * `batch` of each packet message rather than a view: for a caller that makes its own object per
 * packet (a subclass of {@link PacketView}), or reads only a few fields, with no second object.
 * `onOther` and the errors are as in {@link forEachPacket}; error offsets count from the start of
 * `batch`.
 */
export function forEachPacketAt(
  batch: Uint8Array,
  start: number,
  end: number,
  onPacketAt: (offset: number) => void,
  onOther?: (message: DecodedMessage) => void,
): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > batch.length || start > end) {
    throw new RangeError(`[${start}, ${end}) is not a range of the ${batch.length}-byte batch`);
  }
  let offset = start;
  while (offset < end) {
    const length = checkedMessageLength(batch, offset, end);
    if (
      readU16Host(batch, offset + NLMSG_TYPE_AT) === PACKET_MESSAGE_TYPE &&
      (readU16Host(batch, offset + NLMSG_FLAGS_AT) & NLM_F_NFQ_CUT_BY_RECEIVER) === 0
    ) {
      onPacketAt(offset);
    } else if (onOther !== undefined) {
      onOther(decodeMessageAt(batch, offset, length, batch.buffer, batch.byteOffset));
    }
    offset += align4(length);
  }
}

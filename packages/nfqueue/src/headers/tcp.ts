import { dataViewOf, requireBytes } from './bytes.js';
import { MalformedPacketError } from './errors.js';

/** Length of a TCP header without options. */
export const TCP_MIN_HEADER_LENGTH = 20;

const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const SEQUENCE = 4;
const ACKNOWLEDGMENT = 8;
const DATA_OFFSET = 12;
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT_POINTER = 18;

/** TCP flag bits as in {@link TcpHeader.rawFlags} (the AE bit, once NS, is bit 8). */
export const TCP_FLAGS = {
  fin: 0x001,
  syn: 0x002,
  rst: 0x004,
  psh: 0x008,
  ack: 0x010,
  urg: 0x020,
  ece: 0x040,
  cwr: 0x080,
  ae: 0x100,
} as const;

/** The TCP control bits, one boolean each. */
export interface TcpFlags {
  /** FIN: no more data from the sender. */
  readonly fin: boolean;
  /** SYN: synchronize sequence numbers. */
  readonly syn: boolean;
  /** RST: reset the connection. */
  readonly rst: boolean;
  /** PSH: push function. */
  readonly psh: boolean;
  /** ACK: the acknowledgment field is significant. */
  readonly ack: boolean;
  /** URG: the urgent pointer is significant. */
  readonly urg: boolean;
  /** ECE: ECN-echo (RFC 3168). */
  readonly ece: boolean;
  /** CWR: congestion window reduced (RFC 3168). */
  readonly cwr: boolean;
  /** AE: accurate ECN (formerly NS, RFC 3540). */
  readonly ae: boolean;
}

/**
 * A checked, zero-copy view of a TCP segment (RFC 9293): header, options and payload.
 * The bytes are the segment as bounded by the IP layer (see {@link Ipv4Header.payload}).
 *
 * ```text
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |           Checksum            |         Urgent Pointer        |
 * |                    Options (data offset > 5)                  |
 * ```
 *
 * @throws {MalformedPacketError} when the bytes are shorter than 20 or than the data offset
 *   says, or the data offset is below 5.
 */
export class TcpHeader {
  /** Discriminates the L4 views: always 'tcp'. */
  readonly kind = 'tcp' as const;
  /** The segment: header, options and payload. */
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  /**
   * Checks and wraps `bytes`, which start with the TCP header. A segment carries no length of its
   * own, so a cut one (copy range) just has a shorter payload; the IP view tells it was cut.
   */
  constructor(bytes: Uint8Array) {
    requireBytes(bytes, 0, TCP_MIN_HEADER_LENGTH, 'TCP header');
    const view = dataViewOf(bytes);
    const headerLength = (view.getUint8(DATA_OFFSET) >> 4) * 4;
    if (headerLength < TCP_MIN_HEADER_LENGTH) {
      throw new MalformedPacketError(
        'ERR_PACKET_BAD_HEADER_LENGTH',
        DATA_OFFSET,
        'TCP data offset',
        `is ${headerLength / 4} words, below the minimum of 5`,
      );
    }
    requireBytes(bytes, TCP_MIN_HEADER_LENGTH, headerLength - TCP_MIN_HEADER_LENGTH, 'TCP options');
    this.bytes = bytes;
    this.#view = view;
  }

  /** Source port. */
  get sourcePort(): number {
    return this.#view.getUint16(SOURCE_PORT);
  }

  /** Destination port. */
  get destinationPort(): number {
    return this.#view.getUint16(DESTINATION_PORT);
  }

  /** Sequence number. */
  get sequenceNumber(): number {
    return this.#view.getUint32(SEQUENCE);
  }

  /** Acknowledgment number (significant when the ACK flag is set). */
  get acknowledgmentNumber(): number {
    return this.#view.getUint32(ACKNOWLEDGMENT);
  }

  /** Data offset: header length in 32-bit words (5 to 15). */
  get dataOffset(): number {
    return this.#view.getUint8(DATA_OFFSET) >> 4;
  }

  /** Header length in bytes, options included (20 to 60); the payload starts here. */
  get headerLength(): number {
    return this.dataOffset * 4;
  }

  /** The three reserved bits between the data offset and the AE flag. */
  get reserved(): number {
    return (this.#view.getUint8(DATA_OFFSET) >> 1) & 0x07;
  }

  /** The nine flag bits as one number: see {@link TCP_FLAGS}. */
  get rawFlags(): number {
    return ((this.#view.getUint8(DATA_OFFSET) & 0x01) << 8) | this.#view.getUint8(FLAGS);
  }

  /** The flags, one boolean each. */
  get flags(): TcpFlags {
    const raw = this.rawFlags;
    return {
      fin: (raw & TCP_FLAGS.fin) !== 0,
      syn: (raw & TCP_FLAGS.syn) !== 0,
      rst: (raw & TCP_FLAGS.rst) !== 0,
      psh: (raw & TCP_FLAGS.psh) !== 0,
      ack: (raw & TCP_FLAGS.ack) !== 0,
      urg: (raw & TCP_FLAGS.urg) !== 0,
      ece: (raw & TCP_FLAGS.ece) !== 0,
      cwr: (raw & TCP_FLAGS.cwr) !== 0,
      ae: (raw & TCP_FLAGS.ae) !== 0,
    };
  }

  /** Receive window (unscaled, as on the wire). */
  get window(): number {
    return this.#view.getUint16(WINDOW);
  }

  /** Checksum field as received. */
  get checksum(): number {
    return this.#view.getUint16(CHECKSUM);
  }

  /** Urgent pointer. */
  get urgentPointer(): number {
    return this.#view.getUint16(URGENT_POINTER);
  }

  /** Option bytes between the fixed header and the payload (empty when the data offset is 5). */
  get options(): Uint8Array {
    return this.bytes.subarray(TCP_MIN_HEADER_LENGTH, this.headerLength);
  }

  /** The payload (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

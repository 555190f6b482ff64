import { type ParseOptions, dataViewOf, requireBytes } from './bytes.js';
import { MalformedPacketError } from './errors.js';

/** Length of the UDP header. */
export const UDP_HEADER_LENGTH = 8;

const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

/**
 * A checked, zero-copy view of a UDP datagram (RFC 768).
 *
 * ```text
 * |          Source Port          |       Destination Port        |
 * |            Length             |           Checksum            |
 * ```
 *
 * @throws {MalformedPacketError} when the bytes are shorter than 8 or than the length field
 *   (unless `allowTruncated`), or the length field is below 8.
 */
export class UdpHeader {
  /** Discriminates the L4 views: always 'udp'. */
  readonly kind = 'udp' as const;
  /** The datagram, as long as its length field (or the bytes, if cut); bytes after it are ignored. */
  readonly bytes: Uint8Array;
  /** True when the bytes end before the length field says (only with `allowTruncated`). */
  readonly truncated: boolean;
  readonly #view: DataView;

  /** Checks and wraps `bytes`, which start with the UDP header. */
  constructor(bytes: Uint8Array, options: ParseOptions = {}) {
    requireBytes(bytes, 0, UDP_HEADER_LENGTH, 'UDP header');
    const length = dataViewOf(bytes).getUint16(LENGTH);
    if (length < UDP_HEADER_LENGTH) {
      throw new MalformedPacketError('ERR_PACKET_BAD_LENGTH', LENGTH, 'UDP length', `is ${length}, below the header length 8`);
    }
    this.truncated = length > bytes.length;
    if (this.truncated && !options.allowTruncated) requireBytes(bytes, UDP_HEADER_LENGTH, length - UDP_HEADER_LENGTH, 'UDP payload');
    this.bytes = bytes.subarray(0, Math.min(length, bytes.length));
    this.#view = dataViewOf(this.bytes);
  }

  /** Source port (0 when unused). */
  get sourcePort(): number {
    return this.#view.getUint16(SOURCE_PORT);
  }

  /** Destination port. */
  get destinationPort(): number {
    return this.#view.getUint16(DESTINATION_PORT);
  }

  /** Length field: header plus payload, in bytes. */
  get length(): number {
    return this.#view.getUint16(LENGTH);
  }

  /** Checksum field as received (0 over IPv4: none was computed). */
  get checksum(): number {
    return this.#view.getUint16(CHECKSUM);
  }

  /** The payload: from byte 8 to the end of the length field (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LENGTH);
  }
}

import { dataViewOf, requireBytes } from './bytes.js';

/** Length of the ICMP and ICMPv6 header: type, code, checksum and 4 bytes that depend on the type. */
export const ICMP_HEADER_LENGTH = 8;

const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST_OF_HEADER = 4;

/** ICMP (IPv4) echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** ICMP echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMPv6 echo request (RFC 4443). */
export const ICMPV6_ECHO_REQUEST = 128;
/** ICMPv6 echo reply (RFC 4443). */
export const ICMPV6_ECHO_REPLY = 129;

/** What ICMP and ICMPv6 share: a type, a code, a checksum and a 4-byte rest-of-header. */
export abstract class IcmpMessageView {
  /** The message: header and payload. */
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  /** Checks and wraps `bytes`, which start with the header (`what` names it in errors). */
  protected constructor(bytes: Uint8Array, what: string) {
    requireBytes(bytes, 0, ICMP_HEADER_LENGTH, what);
    this.bytes = bytes;
    this.#view = dataViewOf(bytes);
  }

  /** Message type, e.g. 8 echo request (ICMP) or 128 (ICMPv6). */
  get type(): number {
    return this.#view.getUint8(TYPE);
  }

  /** Message code (meaning depends on the type). */
  get code(): number {
    return this.#view.getUint8(CODE);
  }

  /** Checksum field as received. */
  get checksum(): number {
    return this.#view.getUint16(CHECKSUM);
  }

  /** Bytes 4 to 7, whose meaning depends on the type (a view). */
  get restOfHeader(): Uint8Array {
    return this.bytes.subarray(REST_OF_HEADER, ICMP_HEADER_LENGTH);
  }

  /** Echo identifier: bytes 4-5, meaningful for echo requests and replies. */
  get identifier(): number {
    return this.#view.getUint16(REST_OF_HEADER);
  }

  /** Echo sequence number: bytes 6-7, meaningful for echo requests and replies. */
  get sequenceNumber(): number {
    return this.#view.getUint16(REST_OF_HEADER + 2);
  }

  /** Everything after the 8-byte header: echo data, or the invoking packet of an error (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(ICMP_HEADER_LENGTH);
  }

  /** True for an echo request or reply (the types that have an identifier and a sequence number). */
  abstract get isEcho(): boolean;
}

/**
 * A checked, zero-copy view of an ICMP message over IPv4 (RFC 792).
 *
 * ```text
 * |     Type      |     Code      |          Checksum             |
 * |                 Rest of header (by type)                      |
 * |                 Payload ...                                   |
 * ```
 *
 * @throws {MalformedPacketError} when the bytes are shorter than the 8-byte header.
 */
export class IcmpHeader extends IcmpMessageView {
  /** Discriminates the L4 views: always 'icmp'. */
  readonly kind = 'icmp' as const;

  /** Checks and wraps `bytes`, which start with the ICMP header. */
  constructor(bytes: Uint8Array) {
    super(bytes, 'ICMP header');
  }

  /** True for an echo request (8) or reply (0). */
  get isEcho(): boolean {
    return this.type === ICMP_ECHO_REQUEST || this.type === ICMP_ECHO_REPLY;
  }
}

/**
 * A checked, zero-copy view of an ICMPv6 message (RFC 4443); same layout as ICMP, but its
 * checksum covers the IPv6 pseudo-header.
 *
 * @throws {MalformedPacketError} when the bytes are shorter than the 8-byte header.
 */
export class Icmpv6Header extends IcmpMessageView {
  /** Discriminates the L4 views: always 'icmpv6'. */
  readonly kind = 'icmpv6' as const;

  /** Checks and wraps `bytes`, which start with the ICMPv6 header. */
  constructor(bytes: Uint8Array) {
    super(bytes, 'ICMPv6 header');
  }

  /** True for an echo request (128) or reply (129). */
  get isEcho(): boolean {
    return this.type === ICMPV6_ECHO_REQUEST || this.type === ICMPV6_ECHO_REPLY;
  }
}

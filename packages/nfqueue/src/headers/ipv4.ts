import { type ParseOptions, dataViewOf, requireBytes } from './bytes.js';
import { MalformedPacketError } from './errors.js';

/** Length of an IPv4 header without options. */
export const IPV4_MIN_HEADER_LENGTH = 20;

/** Field offsets inside the IPv4 header. */
const VERSION_IHL = 0;
const TOS = 1;
const TOTAL_LENGTH = 2;
const IDENTIFICATION = 4;
const FLAGS_FRAGMENT_OFFSET = 6;
const TTL = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SOURCE = 12;
const DESTINATION = 16;

/** Bits of the flags/fragment-offset word. */
const FLAG_RESERVED = 0x8000;
const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/** The three flag bits of an IPv4 header. */
export interface Ipv4Flags {
  /** The reserved ("evil", RFC 3514) bit; 0 on any sane packet. */
  readonly reserved: boolean;
  /** DF: the packet must not be fragmented. */
  readonly dontFragment: boolean;
  /** MF: more fragments of this datagram follow. */
  readonly moreFragments: boolean;
}

/**
 * A checked, zero-copy view of an IPv4 packet (RFC 791). The constructor validates the header
 * and the lengths; the accessors then read the bytes on demand.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version|  IHL  |    DSCP   |ECN|          Total Length         |
 * |         Identification        |Flags|     Fragment Offset     |
 * |  Time to Live |    Protocol   |        Header Checksum        |
 * |                        Source Address                         |
 * |                      Destination Address                      |
 * |                    Options (IHL > 5)                          |
 * ```
 *
 * @throws {MalformedPacketError} when the bytes are shorter than the header or than the total
 *   length (unless `allowTruncated`), the version is not 4, IHL < 5, or total length < IHL * 4.
 */
export class Ipv4Header {
  /** Discriminates the IP views: always 'ipv4'. */
  readonly kind = 'ipv4' as const;
  /** The packet: from the first header byte to the end of the total length (or of the bytes, if cut). */
  readonly bytes: Uint8Array;
  /** True when the bytes end before the total length (only with `allowTruncated`). */
  readonly truncated: boolean;
  readonly #view: DataView;

  /** Checks and wraps `bytes`, which start with the IPv4 header; bytes past the total length are ignored. */
  constructor(bytes: Uint8Array, options: ParseOptions = {}) {
    requireBytes(bytes, 0, IPV4_MIN_HEADER_LENGTH, 'IPv4 header');
    const view = dataViewOf(bytes);
    const version = view.getUint8(VERSION_IHL) >> 4;
    if (version !== 4) {
      throw new MalformedPacketError('ERR_PACKET_BAD_VERSION', VERSION_IHL, 'IPv4 version', `is ${version}, not 4`);
    }
    const headerLength = (view.getUint8(VERSION_IHL) & 0x0f) * 4;
    if (headerLength < IPV4_MIN_HEADER_LENGTH) {
      throw new MalformedPacketError(
        'ERR_PACKET_BAD_HEADER_LENGTH',
        VERSION_IHL,
        'IPv4 IHL',
        `is ${headerLength / 4} words, below the minimum of 5`,
      );
    }
    requireBytes(bytes, IPV4_MIN_HEADER_LENGTH, headerLength - IPV4_MIN_HEADER_LENGTH, 'IPv4 options');
    const totalLength = view.getUint16(TOTAL_LENGTH);
    if (totalLength < headerLength) {
      throw new MalformedPacketError(
        'ERR_PACKET_BAD_LENGTH',
        TOTAL_LENGTH,
        'IPv4 total length',
        `is ${totalLength}, below the header length ${headerLength}`,
      );
    }
    this.truncated = totalLength > bytes.length;
    if (this.truncated && !options.allowTruncated) requireBytes(bytes, headerLength, totalLength - headerLength, 'IPv4 payload');
    this.bytes = bytes.subarray(0, Math.min(totalLength, bytes.length));
    this.#view = dataViewOf(this.bytes);
  }

  /** IP version: always 4. */
  get version(): 4 {
    return 4;
  }

  /** IHL: header length in 32-bit words (5 to 15). */
  get ihl(): number {
    return this.#view.getUint8(VERSION_IHL) & 0x0f;
  }

  /** Header length in bytes, options included (20 to 60); the L4 header starts here. */
  get headerLength(): number {
    return this.ihl * 4;
  }

  /** The whole type-of-service byte (DSCP << 2 | ECN). */
  get tos(): number {
    return this.#view.getUint8(TOS);
  }

  /** Differentiated services code point (upper 6 bits of the TOS byte). */
  get dscp(): number {
    return this.tos >> 2;
  }

  /** Explicit congestion notification (lower 2 bits of the TOS byte). */
  get ecn(): number {
    return this.tos & 0x03;
  }

  /** Total length field: header plus payload, in bytes. */
  get totalLength(): number {
    return this.#view.getUint16(TOTAL_LENGTH);
  }

  /** Identification field (groups the fragments of one datagram). */
  get id(): number {
    return this.#view.getUint16(IDENTIFICATION);
  }

  /** The flag bits. */
  get flags(): Ipv4Flags {
    const word = this.#view.getUint16(FLAGS_FRAGMENT_OFFSET);
    return {
      reserved: (word & FLAG_RESERVED) !== 0,
      dontFragment: (word & FLAG_DONT_FRAGMENT) !== 0,
      moreFragments: (word & FLAG_MORE_FRAGMENTS) !== 0,
    };
  }

  /** DF: the packet must not be fragmented. */
  get dontFragment(): boolean {
    return (this.#view.getUint16(FLAGS_FRAGMENT_OFFSET) & FLAG_DONT_FRAGMENT) !== 0;
  }

  /** MF: more fragments of this datagram follow. */
  get moreFragments(): boolean {
    return (this.#view.getUint16(FLAGS_FRAGMENT_OFFSET) & FLAG_MORE_FRAGMENTS) !== 0;
  }

  /** Fragment offset field, in 8-byte units (as on the wire). */
  get fragmentOffset(): number {
    return this.#view.getUint16(FLAGS_FRAGMENT_OFFSET) & FRAGMENT_OFFSET_MASK;
  }

  /** Where this fragment's data sits in the datagram, in bytes (fragmentOffset * 8). */
  get fragmentByteOffset(): number {
    return this.fragmentOffset * 8;
  }

  /** True for any fragment: MF set or a non-zero fragment offset. */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }

  /** True for a fragment other than the first: its payload does not start with the L4 header. */
  get isNonFirstFragment(): boolean {
    return this.fragmentOffset !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.#view.getUint8(TTL);
  }

  /** Protocol of the payload, e.g. 6 TCP, 17 UDP, 1 ICMP. */
  get protocol(): number {
    return this.#view.getUint8(PROTOCOL);
  }

  /** The upper-layer protocol: the same as {@link protocol} (named like {@link Ipv6Header.upperLayerProtocol}). */
  get upperLayerProtocol(): number {
    return this.protocol;
  }

  /** Where the L4 header starts: the same as {@link headerLength}. */
  get upperLayerOffset(): number {
    return this.headerLength;
  }

  /** Header checksum field as received. */
  get checksum(): number {
    return this.#view.getUint16(CHECKSUM);
  }

  /** Source address as 4 bytes (a view). */
  get sourceBytes(): Uint8Array {
    return this.bytes.subarray(SOURCE, SOURCE + 4);
  }

  /** Destination address as 4 bytes (a view). */
  get destinationBytes(): Uint8Array {
    return this.bytes.subarray(DESTINATION, DESTINATION + 4);
  }

  /** Source address in dotted-quad text. */
  get source(): string {
    return formatIpv4Address(this.sourceBytes);
  }

  /** Destination address in dotted-quad text. */
  get destination(): string {
    return formatIpv4Address(this.destinationBytes);
  }

  /** The header bytes, options included (a view). */
  get headerBytes(): Uint8Array {
    return this.bytes.subarray(0, this.headerLength);
  }

  /** Option bytes between the fixed header and the payload (empty when IHL is 5). */
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_MIN_HEADER_LENGTH, this.headerLength);
  }

  /** The L4 bytes: from the end of the header to the end of the total length (trailing bytes excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Dotted-quad text of a 4-byte IPv4 address. */
export function formatIpv4Address(address: Uint8Array): string {
  if (address.length !== 4) throw new RangeError(`an IPv4 address has 4 bytes, not ${address.length}`);
  return `${address[0]}.${address[1]}.${address[2]}.${address[3]}`;
}

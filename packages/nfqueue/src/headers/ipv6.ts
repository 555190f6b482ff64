import { type ParseOptions, dataViewOf, requireBytes } from './bytes.js';
import { MalformedPacketError } from './errors.js';
import { formatIpv4Address } from './ipv4.js';

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;

/** Field offsets inside the fixed IPv6 header. */
const VERSION_CLASS_FLOW = 0;
const PAYLOAD_LENGTH = 4;
const NEXT_HEADER = 6;
const HOP_LIMIT = 7;
const SOURCE = 8;
const DESTINATION = 24;

/** Next-header values of the extension headers this view walks through. */
export const IPV6_EXTENSION_HEADERS = {
  /** Hop-by-hop options (RFC 8200 4.3). */
  hopByHop: 0,
  /** Routing header (RFC 8200 4.4). */
  routing: 43,
  /** Fragment header (RFC 8200 4.5). */
  fragment: 44,
  /** Authentication header (RFC 4302); its length counts 4-byte units, minus 2. */
  authentication: 51,
  /** Destination options (RFC 8200 4.6). */
  destinationOptions: 60,
} as const;

/** Next-header value meaning "nothing follows" (RFC 8200 4.7). */
export const IPV6_NO_NEXT_HEADER = 59;

const FRAGMENT_HEADER_LENGTH = 8;

/** The fragment header's fields (present on {@link Ipv6ExtensionHeader} of type 44). */
export interface Ipv6FragmentInfo {
  /** Where this fragment's data sits in the original packet, in 8-byte units. */
  readonly offset: number;
  /** M flag: more fragments follow. */
  readonly moreFragments: boolean;
  /** Identification shared by all fragments of the packet. */
  readonly identification: number;
}

/** One extension header met on the way from the fixed header to the upper-layer header. */
export interface Ipv6ExtensionHeader {
  /** Its own type: the next-header value that announced it (0, 43, 44, 51 or 60). */
  readonly type: number;
  /** Offset of its first byte from the start of the IPv6 packet. */
  readonly offset: number;
  /** Its length in bytes, as its length field says. */
  readonly length: number;
  /** Next-header value it carries: the type of what follows it. */
  readonly nextHeader: number;
  /** Its bytes (a view). */
  readonly bytes: Uint8Array;
  /** For a fragment header (type 44): its fields. */
  readonly fragment?: Ipv6FragmentInfo;
}

/**
 * A checked, zero-copy view of an IPv6 packet (RFC 8200), with its extension headers walked up to
 * the upper-layer header: hop-by-hop (0), routing (43), fragment (44), authentication (51) and
 * destination options (60). The walk stops at any other next-header value (the upper-layer
 * protocol, ESP 50 or no-next-header 59 included) and after the fragment header of a non-first
 * fragment, whose remaining bytes continue the original packet instead of starting a header.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |Version| Traffic Class |              Flow Label               |
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * |                   Source Address (16 bytes)                   |
 * |                Destination Address (16 bytes)                 |
 * ```
 *
 * @throws {MalformedPacketError} when the bytes are shorter than the fixed header or than the
 *   payload length (unless `allowTruncated`), the version is not 6, or an extension header runs
 *   past the payload.
 */
export class Ipv6Header {
  /** Discriminates the IP views: always 'ipv6'. */
  readonly kind = 'ipv6' as const;
  /** The packet: from the first header byte to the end of the payload length (or of the bytes, if cut). */
  readonly bytes: Uint8Array;
  /** True when the bytes end before the payload length says (only with `allowTruncated`). */
  readonly truncated: boolean;
  /** The extension headers, in order. */
  readonly extensionHeaders: readonly Ipv6ExtensionHeader[];
  /** The protocol after the extension headers, e.g. 6 TCP, 17 UDP, 58 ICMPv6, 59 none. */
  readonly upperLayerProtocol: number;
  /** Offset of the upper-layer header from the start of the packet. */
  readonly upperLayerOffset: number;
  /** True when a fragment header with a non-zero offset was met: no upper-layer header here. */
  readonly isNonFirstFragment: boolean;
  readonly #view: DataView;

  /** Checks and wraps `bytes`, which start with the IPv6 header; bytes past the payload length are ignored. */
  constructor(bytes: Uint8Array, options: ParseOptions = {}) {
    requireBytes(bytes, 0, IPV6_HEADER_LENGTH, 'IPv6 header');
    const version = bytes[0]! >> 4;
    if (version !== 6) {
      throw new MalformedPacketError('ERR_PACKET_BAD_VERSION', VERSION_CLASS_FLOW, 'IPv6 version', `is ${version}, not 6`);
    }
    const packetLength = IPV6_HEADER_LENGTH + dataViewOf(bytes).getUint16(PAYLOAD_LENGTH);
    this.truncated = packetLength > bytes.length;
    if (this.truncated && !options.allowTruncated) {
      requireBytes(bytes, IPV6_HEADER_LENGTH, packetLength - IPV6_HEADER_LENGTH, 'IPv6 payload');
    }
    this.bytes = bytes.subarray(0, Math.min(packetLength, bytes.length));
    this.#view = dataViewOf(this.bytes);

    const extensionHeaders: Ipv6ExtensionHeader[] = [];
    let nextHeader = this.#view.getUint8(NEXT_HEADER);
    let offset = IPV6_HEADER_LENGTH;
    let nonFirstFragment = false;
    while (!nonFirstFragment && isWalkedExtension(nextHeader)) {
      const header = this.#readExtension(nextHeader, offset);
      extensionHeaders.push(header);
      nonFirstFragment = header.fragment !== undefined && header.fragment.offset !== 0;
      nextHeader = header.nextHeader;
      offset += header.length;
    }
    this.extensionHeaders = extensionHeaders;
    this.upperLayerProtocol = nextHeader;
    this.upperLayerOffset = offset;
    this.isNonFirstFragment = nonFirstFragment;
  }

  /** Reads the extension header of `type` at `offset`; it must lie within the payload length (and, if cut, the bytes). */
  #readExtension(type: number, offset: number): Ipv6ExtensionHeader {
    const what = `IPv6 ${extensionName(type)} header`;
    requireBytes(this.bytes, offset, 2, what);
    const nextHeader = this.#view.getUint8(offset);
    const lengthField = this.#view.getUint8(offset + 1);
    const length =
      type === IPV6_EXTENSION_HEADERS.fragment
        ? FRAGMENT_HEADER_LENGTH
        : type === IPV6_EXTENSION_HEADERS.authentication
          ? (lengthField + 2) * 4
          : (lengthField + 1) * 8;
    requireBytes(this.bytes, offset, length, what);
    const bytes = this.bytes.subarray(offset, offset + length);
    if (type !== IPV6_EXTENSION_HEADERS.fragment) return { type, offset, length, nextHeader, bytes };
    const offsetAndFlags = this.#view.getUint16(offset + 2);
    const fragment: Ipv6FragmentInfo = {
      offset: offsetAndFlags >> 3,
      moreFragments: (offsetAndFlags & 1) !== 0,
      identification: this.#view.getUint32(offset + 4),
    };
    return { type, offset, length, nextHeader, bytes, fragment };
  }

  /** IP version: always 6. */
  get version(): 6 {
    return 6;
  }

  /** Traffic class byte (DSCP << 2 | ECN). */
  get trafficClass(): number {
    return (this.#view.getUint32(VERSION_CLASS_FLOW) >>> 20) & 0xff;
  }

  /** Differentiated services code point (upper 6 bits of the traffic class). */
  get dscp(): number {
    return this.trafficClass >> 2;
  }

  /** Explicit congestion notification (lower 2 bits of the traffic class). */
  get ecn(): number {
    return this.trafficClass & 0x03;
  }

  /** Flow label (20 bits). */
  get flowLabel(): number {
    return this.#view.getUint32(VERSION_CLASS_FLOW) & 0xfffff;
  }

  /** Payload length field: bytes after the fixed 40-byte header, extension headers included. */
  get payloadLength(): number {
    return this.#view.getUint16(PAYLOAD_LENGTH);
  }

  /** Next-header field of the fixed header (the first extension header, or the upper-layer protocol). */
  get nextHeader(): number {
    return this.#view.getUint8(NEXT_HEADER);
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.#view.getUint8(HOP_LIMIT);
  }

  /** Source address as 16 bytes (a view). */
  get sourceBytes(): Uint8Array {
    return this.bytes.subarray(SOURCE, SOURCE + 16);
  }

  /** Destination address as 16 bytes (a view). */
  get destinationBytes(): Uint8Array {
    return this.bytes.subarray(DESTINATION, DESTINATION + 16);
  }

  /** Source address in RFC 5952 text, e.g. '::1', '2001:db8::1', '::ffff:192.0.2.1'. */
  get source(): string {
    return formatIpv6Address(this.sourceBytes);
  }

  /** Destination address in RFC 5952 text. */
  get destination(): string {
    return formatIpv6Address(this.destinationBytes);
  }

  /** The fragment header's fields, when there is a fragment header. */
  get fragment(): Ipv6FragmentInfo | undefined {
    return this.extensionHeaders.find((header) => header.fragment !== undefined)?.fragment;
  }

  /**
   * True when this packet holds only part of the original: there is a fragment header with a
   * non-zero offset or the M flag. An atomic fragment (offset 0, M clear; RFC 6946) is whole.
   */
  get isFragment(): boolean {
    const fragment = this.fragment;
    return fragment !== undefined && (fragment.offset !== 0 || fragment.moreFragments);
  }

  /** Everything after the fixed 40-byte header, extension headers included (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LENGTH);
  }

  /** The bytes from the upper-layer header on (a view). */
  get upperLayerBytes(): Uint8Array {
    return this.bytes.subarray(this.upperLayerOffset);
  }
}

function isWalkedExtension(nextHeader: number): boolean {
  return (
    nextHeader === IPV6_EXTENSION_HEADERS.hopByHop ||
    nextHeader === IPV6_EXTENSION_HEADERS.routing ||
    nextHeader === IPV6_EXTENSION_HEADERS.fragment ||
    nextHeader === IPV6_EXTENSION_HEADERS.authentication ||
    nextHeader === IPV6_EXTENSION_HEADERS.destinationOptions
  );
}

function extensionName(type: number): string {
  switch (type) {
    case IPV6_EXTENSION_HEADERS.hopByHop:
      return 'hop-by-hop options';
    case IPV6_EXTENSION_HEADERS.routing:
      return 'routing';
    case IPV6_EXTENSION_HEADERS.fragment:
      return 'fragment';
    case IPV6_EXTENSION_HEADERS.authentication:
      return 'authentication';
    default:
      return 'destination options';
  }
}

/**
 * RFC 5952 text of a 16-byte IPv6 address: lowercase hex without leading zeros, the longest run
 * of two or more zero groups (the first, on a tie) shortened to '::', and IPv4-mapped addresses
 * (::ffff:0:0/96) ending in dotted-quad.
 */
export function formatIpv6Address(address: Uint8Array): string {
  if (address.length !== 16) throw new RangeError(`an IPv6 address has 16 bytes, not ${address.length}`);
  const groups: number[] = [];
  for (let index = 0; index < 16; index += 2) groups.push((address[index]! << 8) | address[index + 1]!);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4Address(address.subarray(12))}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = (part: number[]): string => part.map((group) => group.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

import type { ParseOptions } from './bytes.js';
import { MalformedPacketError } from './errors.js';
import { IcmpHeader, Icmpv6Header } from './icmp.js';
import { Ipv4Header } from './ipv4.js';
import { Ipv6Header } from './ipv6.js';
import { TcpHeader } from './tcp.js';
import { UdpHeader } from './udp.js';

/** IP protocol numbers of the L4 headers {@link parseIp} knows. */
export const IP_PROTOCOLS = {
  /** ICMP over IPv4. */
  icmp: 1,
  /** TCP. */
  tcp: 6,
  /** UDP. */
  udp: 17,
  /** ICMPv6. */
  icmpv6: 58,
} as const;

/** Either IP view; tell them apart by `kind` ('ipv4' or 'ipv6'). */
export type IpHeader = Ipv4Header | Ipv6Header;

/** Any L4 view; tell them apart by `kind` ('tcp', 'udp', 'icmp' or 'icmpv6'). */
export type TransportHeader = TcpHeader | UdpHeader | IcmpHeader | Icmpv6Header;

/** What {@link parseIp} found: the IP view and, when it can be read, the L4 view. */
export interface ParsedPacket {
  /** The IP header view. */
  readonly ip: IpHeader;
  /**
   * The L4 view chosen by the (upper-layer) protocol: TCP, UDP, ICMP over IPv4 or ICMPv6 over
   * IPv6. Undefined for other protocols and for non-first fragments, which carry no L4 header.
   */
  readonly l4: TransportHeader | undefined;
}

/**
 * Parses an IP packet (as in `Packet.payload`): dispatches on the version nibble to
 * {@link Ipv4Header} or {@link Ipv6Header}, then reads the L4 header its protocol names.
 *
 * @throws {MalformedPacketError} when any header is malformed; offsets count from the start of `bytes`.
 */
export function parseIp(bytes: Uint8Array, options: ParseOptions = {}): ParsedPacket {
  const ip = parseIpHeader(bytes, options);
  return { ip, l4: parseTransport(ip, options) };
}

/**
 * Reads only the IP header (and IPv6 extension headers) of `bytes`, choosing the version by the
 * first nibble.
 *
 * @throws {MalformedPacketError} when the bytes are empty, the version is neither 4 nor 6, or the header is malformed.
 */
export function parseIpHeader(bytes: Uint8Array, options: ParseOptions = {}): IpHeader {
  if (bytes.length === 0) throw new MalformedPacketError('ERR_PACKET_TRUNCATED', 0, 'IP header', 'the packet is empty');
  const version = bytes[0]! >> 4;
  if (version === 4) return new Ipv4Header(bytes, options);
  if (version === 6) return new Ipv6Header(bytes, options);
  throw new MalformedPacketError('ERR_PACKET_BAD_VERSION', 0, 'IP version', `is ${version}, neither 4 nor 6`);
}

/**
 * The L4 view of a parsed IP packet, or undefined for a protocol without a view here or a
 * non-first fragment.
 *
 * @throws {MalformedPacketError} when the L4 header is malformed; offsets count from the start of the IP packet.
 */
export function parseTransport(ip: IpHeader, options: ParseOptions = {}): TransportHeader | undefined {
  if (ip.isNonFirstFragment) return undefined;
  const bytes = ip.bytes.subarray(ip.upperLayerOffset);
  // A first fragment holds only the start of the datagram, so its UDP length may run past it.
  const l4Options: ParseOptions = { allowTruncated: (options.allowTruncated === true && ip.truncated) || ip.isFragment };
  try {
    switch (ip.upperLayerProtocol) {
      case IP_PROTOCOLS.tcp:
        return new TcpHeader(bytes);
      case IP_PROTOCOLS.udp:
        return new UdpHeader(bytes, l4Options);
      case IP_PROTOCOLS.icmp:
        return ip.kind === 'ipv4' ? new IcmpHeader(bytes) : undefined;
      case IP_PROTOCOLS.icmpv6:
        return ip.kind === 'ipv6' ? new Icmpv6Header(bytes) : undefined;
      default:
        return undefined;
    }
  } catch (error) {
    throw error instanceof MalformedPacketError ? error.shiftedBy(ip.upperLayerOffset) : error;
  }
}

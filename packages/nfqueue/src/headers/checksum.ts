/**
 * The internet checksum (RFC 1071) and the checksums built on it: the IPv4 header checksum and the
 * TCP, UDP, ICMP and ICMPv6 checksums, with the IPv4 or IPv6 pseudo-header where the protocol has
 * one. `compute*` functions return the value to store; `verify*` functions check a received one.
 */
import { dataViewOf } from './bytes.js';
import type { Ipv4Header } from './ipv4.js';
import type { Ipv6Header } from './ipv6.js';

/** IP protocol numbers the checksums need. */
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const PROTOCOL_ICMPV6 = 58;

/** Offset of the checksum field inside each header. */
const IPV4_CHECKSUM_OFFSET = 10;
const TCP_CHECKSUM_OFFSET = 16;
const UDP_CHECKSUM_OFFSET = 6;
const ICMP_CHECKSUM_OFFSET = 2;

/** Folds a sum of 16-bit words (any size up to 2^53) into 16 bits with end-around carry. */
function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** Adds `bytes` as big-endian 16-bit words to `sum` without folding (odd last byte padded with zero). */
function addWords(sum: number, bytes: Uint8Array): number {
  const view = dataViewOf(bytes);
  const length = bytes.length;
  const wholeWords = length & ~3;
  let offset = 0;
  // 32-bit words: hi * 2^16 + lo is congruent to hi + lo modulo 2^16 - 1, so this is the same sum.
  for (; offset < wholeWords; offset += 4) sum += view.getUint32(offset);
  if (length - offset >= 2) {
    sum += view.getUint16(offset);
    offset += 2;
  }
  if (offset < length) sum += view.getUint8(offset) << 8;
  return sum;
}

/**
 * The ones' complement sum of `bytes` as 16-bit big-endian words (RFC 1071; an odd last byte is
 * padded with a zero), folded to 16 bits and added to `initialSum`; not complemented.
 * Building block for checksums made of several parts.
 */
export function onesComplementSum(bytes: Uint8Array, initialSum = 0): number {
  return fold(addWords(initialSum, bytes));
}

/**
 * The internet checksum of `bytes` (RFC 1071): the ones' complement of their ones' complement sum,
 * with `initialSum` (e.g. a pseudo-header sum) added in. Over bytes that hold a correct checksum
 * the result is 0.
 */
export function internetChecksum(bytes: Uint8Array, initialSum = 0): number {
  return ~onesComplementSum(bytes, initialSum) & 0xffff;
}

/** The checksum of `bytes` computed as if the 16-bit field at `fieldOffset` were zero. */
function checksumWithoutField(bytes: Uint8Array, fieldOffset: number, initialSum: number): number {
  let sum = addWords(initialSum, bytes.subarray(0, fieldOffset));
  sum = addWords(sum, bytes.subarray(fieldOffset + 2));
  return ~fold(sum) & 0xffff;
}

/** The IPv4 header checksum to store in `header` (its current checksum field is ignored). */
export function computeIpv4HeaderChecksum(header: Ipv4Header): number {
  return checksumWithoutField(header.headerBytes, IPV4_CHECKSUM_OFFSET, 0);
}

/** True when the IPv4 header checksum of `header` is correct. */
export function verifyIpv4HeaderChecksum(header: Ipv4Header): boolean {
  return internetChecksum(header.headerBytes) === 0;
}

/**
 * The sum of the pseudo-header that TCP, UDP and ICMPv6 checksums cover: source and destination
 * address, upper-layer length and protocol (RFC 793 for IPv4, RFC 8200 section 8.1 for IPv6).
 * IPv6 uses the destination field of the fixed header: a routing header with segments left is not
 * followed to the final destination.
 */
export function pseudoHeaderSum(ip: Ipv4Header | Ipv6Header, protocol: number, upperLayerLength: number): number {
  let sum = addWords(0, ip.sourceBytes);
  sum = addWords(sum, ip.destinationBytes);
  // IPv4: zero, protocol, 16-bit length. IPv6: 32-bit length, three zero bytes, next header.
  sum += protocol + (upperLayerLength % 0x10000) + Math.floor(upperLayerLength / 0x10000);
  return fold(sum);
}

/** The TCP checksum to store in `segment` (TCP header and payload) sent inside `ip`. */
export function computeTcpChecksum(ip: Ipv4Header | Ipv6Header, segment: Uint8Array): number {
  return checksumWithoutField(segment, TCP_CHECKSUM_OFFSET, pseudoHeaderSum(ip, PROTOCOL_TCP, segment.length));
}

/** True when the TCP checksum of `segment` (TCP header and payload) sent inside `ip` is correct. */
export function verifyTcpChecksum(ip: Ipv4Header | Ipv6Header, segment: Uint8Array): boolean {
  return internetChecksum(segment, pseudoHeaderSum(ip, PROTOCOL_TCP, segment.length)) === 0;
}

/**
 * The UDP checksum to store in `datagram` (UDP header and payload, as long as its length field)
 * sent inside `ip`. A computed 0 is returned as 0xffff, since 0 on the wire means "no checksum".
 */
export function computeUdpChecksum(ip: Ipv4Header | Ipv6Header, datagram: Uint8Array): number {
  const checksum = checksumWithoutField(datagram, UDP_CHECKSUM_OFFSET, pseudoHeaderSum(ip, PROTOCOL_UDP, datagram.length));
  return checksum === 0 ? 0xffff : checksum;
}

/**
 * True when the UDP checksum of `datagram` sent inside `ip` is correct. Over IPv4 a checksum of 0
 * means the sender computed none, and is accepted; over IPv6 it is mandatory (RFC 8200), and 0 fails.
 */
export function verifyUdpChecksum(ip: Ipv4Header | Ipv6Header, datagram: Uint8Array): boolean {
  const stored = datagram.length >= 8 ? dataViewOf(datagram).getUint16(UDP_CHECKSUM_OFFSET) : 0;
  if (stored === 0) return ip.version === 4;
  return internetChecksum(datagram, pseudoHeaderSum(ip, PROTOCOL_UDP, datagram.length)) === 0;
}

/** The ICMP (IPv4) checksum to store in `message`; ICMP has no pseudo-header. */
export function computeIcmpChecksum(message: Uint8Array): number {
  return checksumWithoutField(message, ICMP_CHECKSUM_OFFSET, 0);
}

/** True when the ICMP (IPv4) checksum of `message` is correct. */
export function verifyIcmpChecksum(message: Uint8Array): boolean {
  return internetChecksum(message) === 0;
}

/** The ICMPv6 checksum to store in `message` sent inside `ip` (RFC 4443: with the IPv6 pseudo-header). */
export function computeIcmpv6Checksum(ip: Ipv6Header, message: Uint8Array): number {
  return checksumWithoutField(message, ICMP_CHECKSUM_OFFSET, pseudoHeaderSum(ip, PROTOCOL_ICMPV6, message.length));
}

/** True when the ICMPv6 checksum of `message` sent inside `ip` is correct. */
export function verifyIcmpv6Checksum(ip: Ipv6Header, message: Uint8Array): boolean {
  return internetChecksum(message, pseudoHeaderSum(ip, PROTOCOL_ICMPV6, message.length)) === 0;
}

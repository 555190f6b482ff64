/**
 * Editing packets: the counterparts of libnetfilter_queue's `pktb_mangle`, `nfq_ip_mangle`,
 * `nfq_ip6_mangle`, `nfq_tcp_mangle_ipv4/6` and `nfq_udp_mangle_ipv4/6`, plus checksum repair.
 */
import {
  computeIcmpChecksum,
  computeIcmpv6Checksum,
  computeIpv4HeaderChecksum,
  computeTcpChecksum,
  computeUdpChecksum,
  verifyIcmpChecksum,
  verifyIcmpv6Checksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from './checksum.js';
import { dataViewOf } from './bytes.js';
import { MangleArgumentError, MangleRangeError, MangleUnsupportedError, PacketTooLargeError } from './errors.js';
import { ICMP_HEADER_LENGTH } from './icmp.js';
import { IPV6_HEADER_LENGTH } from './ipv6.js';
import { IP_PROTOCOLS, type IpHeader, type TransportHeader, parseIp } from './parse.js';
import { UDP_HEADER_LENGTH } from './udp.js';

/** The largest value of a 16-bit length field (IPv4 total length, IPv6 payload length, UDP length). */
export const MAX_LENGTH_FIELD = 0xffff;

const IPV4_TOTAL_LENGTH = 2;
const IPV4_CHECKSUM = 10;
const IPV6_PAYLOAD_LENGTH = 4;
const TCP_CHECKSUM = 16;
const UDP_LENGTH = 4;
const UDP_CHECKSUM = 6;
const ICMP_CHECKSUM = 2;

/** One replacement: `length` bytes at `offset` become `replacement`, which may be longer or shorter. */
export interface MangleEdit {
  /** Where the replaced bytes start, relative to the region the function names. */
  offset: number;
  /** How many bytes to replace (0 inserts). */
  length: number;
  /** The new bytes (empty deletes). */
  replacement: Uint8Array;
}

/**
 * Replaces bytes of the L4 payload (after the TCP header and options, the 8-byte UDP header, or
 * the 8-byte ICMP/ICMPv6 header) and returns the edited packet as a new Buffer: IPv4 total length
 * or IPv6 payload length, the UDP length, the IPv4 header checksum and the L4 checksum are
 * brought up to date. `packet` itself is never written (it may be a view into a received batch).
 *
 * After changing the length of a TCP payload, the sequence numbers of the rest of the connection
 * no longer match in either direction; adjusting them is the caller's business, as with
 * `nfq_tcp_mangle_ipv4`.
 *
 * @throws {MangleArgumentError} when `packet` or `edit.replacement` is not a Uint8Array (a string or
 *   an ArrayBuffer included: encode text with `Buffer.from(text)`), or `edit` is not an object.
 * @throws {MalformedPacketError} when `packet` does not parse (a cut packet included).
 * @throws {MangleUnsupportedError} for a fragment (the L4 checksum covers the whole datagram) or
 *   a protocol other than TCP, UDP, ICMP and ICMPv6.
 * @throws {MangleRangeError} when `[offset, offset + length)` is not inside the L4 payload.
 * @throws {PacketTooLargeError} when the result would not fit the 16-bit length fields.
 */
export function mangle(packet: Uint8Array, edit: MangleEdit): Buffer {
  checkArguments('mangle', packet, edit);
  const { ip, l4 } = parseIp(packet);
  if (ip.isFragment) {
    throw new MangleUnsupportedError('it is a fragment, and the L4 checksum covers the reassembled datagram');
  }
  if (l4 === undefined) {
    throw new MangleUnsupportedError(`no known L4 payload start for protocol ${ip.upperLayerProtocol}; use mangleIp`);
  }
  const payloadStart = ip.upperLayerOffset + transportHeaderLength(l4);
  const payloadLength = ip.bytes.length - payloadStart;
  checkRange(`${l4.kind.toUpperCase()} payload`, edit, payloadLength);
  return spliceAndRepair(ip, payloadStart + edit.offset, edit);
}

/**
 * Replaces bytes anywhere in the packet, `offset` counting from the first byte of the IP header,
 * and returns the edited packet as a new Buffer with lengths and checksums brought up to date as
 * {@link mangle} does (the L4 checksum only for TCP, UDP, ICMP and ICMPv6 outside fragments).
 * Bytes past the IP length are dropped. An edit that changes the length must start at or after
 * the L4 header (`upperLayerOffset`): inside the IP headers only same-length replacements are
 * accepted, since no length field there is adjusted.
 *
 * @throws {MalformedPacketError} when `packet` does not parse, or the edited packet does not.
 * @throws {MangleRangeError} when the range is outside the packet, or changes the length inside the IP headers.
 * @throws {PacketTooLargeError} when the result would not fit the 16-bit length fields.
 */
export function mangleIp(packet: Uint8Array, edit: MangleEdit): Buffer {
  checkArguments('mangleIp', packet, edit);
  const { ip } = parseIp(packet);
  checkRange('IP packet', edit, ip.bytes.length);
  if (edit.replacement.length !== edit.length && edit.offset < ip.upperLayerOffset) {
    throw new MangleRangeError(
      'IP packet',
      edit.offset,
      edit.length,
      ip.bytes.length,
      `a length-changing edit must start at or after the L4 header (offset ${ip.upperLayerOffset})`,
    );
  }
  return spliceAndRepair(ip, edit.offset, edit);
}

/**
 * Recomputes, in place, the IPv4 header checksum and the L4 checksum (TCP, UDP, ICMP, ICMPv6) of
 * a packet the caller owns, after it edited bytes without changing lengths. The L4 checksum is
 * left alone in fragments (it covers the reassembled datagram) and for other protocols. Lengths
 * are not touched: use {@link mangle} or {@link mangleIp} to change them. A UDP checksum is
 * always filled in, even where it was 0 ("none").
 *
 * @throws {MalformedPacketError} when `packet` does not parse (a cut packet included).
 */
export function recomputeChecksums(packet: Uint8Array): void {
  const { ip, l4 } = parseIp(packet);
  if (ip.kind === 'ipv4') dataViewOf(ip.bytes).setUint16(IPV4_CHECKSUM, computeIpv4HeaderChecksum(ip));
  if (l4 === undefined || ip.isFragment) return;
  const view = dataViewOf(l4.bytes);
  switch (l4.kind) {
    case 'tcp':
      view.setUint16(TCP_CHECKSUM, computeTcpChecksum(ip, l4.bytes));
      break;
    case 'udp':
      view.setUint16(UDP_CHECKSUM, computeUdpChecksum(ip, l4.bytes));
      break;
    case 'icmp':
      view.setUint16(ICMP_CHECKSUM, computeIcmpChecksum(l4.bytes));
      break;
    case 'icmpv6':
      if (ip.kind === 'ipv6') view.setUint16(ICMP_CHECKSUM, computeIcmpv6Checksum(ip, l4.bytes));
      break;
  }
}

/** Which checksums of a packet hold; `undefined` where there is none to check. */
export interface ChecksumReport {
  /** The IPv4 header checksum; undefined for IPv6, which has none. */
  readonly ipHeader: boolean | undefined;
  /** The L4 checksum; undefined for other protocols and for fragments. */
  readonly transport: boolean | undefined;
}

/**
 * Checks every checksum of `packet` that can be checked. Packets the kernel queued on OUTPUT
 * (or that crossed loopback) may carry only a partial L4 checksum, to be finished by the device
 * (`Packet.checksumNotReady`): their `transport` is expected to fail.
 *
 * @throws {MalformedPacketError} when `packet` does not parse (a cut packet included).
 */
export function verifyChecksums(packet: Uint8Array): ChecksumReport {
  const { ip, l4 } = parseIp(packet);
  const ipHeader = ip.kind === 'ipv4' ? verifyIpv4HeaderChecksum(ip) : undefined;
  if (l4 === undefined || ip.isFragment) return { ipHeader, transport: undefined };
  let transport: boolean;
  switch (l4.kind) {
    case 'tcp':
      transport = verifyTcpChecksum(ip, l4.bytes);
      break;
    case 'udp':
      transport = verifyUdpChecksum(ip, l4.bytes);
      break;
    case 'icmp':
      transport = verifyIcmpChecksum(l4.bytes);
      break;
    case 'icmpv6':
      transport = ip.kind === 'ipv6' && verifyIcmpv6Checksum(ip, l4.bytes);
      break;
  }
  return { ipHeader, transport };
}

/** Bytes from the L4 header's start to its payload. */
function transportHeaderLength(l4: TransportHeader): number {
  switch (l4.kind) {
    case 'tcp':
      return l4.headerLength;
    case 'udp':
      return UDP_HEADER_LENGTH;
    default:
      return ICMP_HEADER_LENGTH;
  }
}

function checkArguments(name: string, packet: unknown, edit: unknown): void {
  const kind = (value: unknown): string =>
    value === null ? 'null' : value instanceof ArrayBuffer ? 'an ArrayBuffer' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
  if (!(packet instanceof Uint8Array)) throw new MangleArgumentError(`${name}: the packet must be a Buffer or Uint8Array, got ${kind(packet)}`);
  if (edit === null || typeof edit !== 'object') {
    throw new MangleArgumentError(`${name}: the edit must be an object { offset, length, replacement }, got ${kind(edit)}`);
  }
  const replacement = Object.hasOwn(edit, 'replacement') ? (edit as MangleEdit).replacement : undefined;
  if (!(replacement instanceof Uint8Array)) {
    throw new MangleArgumentError(
      `${name}: replacement must be a Buffer or Uint8Array, got ${kind(replacement)}` +
        (typeof replacement === 'string' ? ': encode text first, e.g. Buffer.from(text)' : (replacement as unknown) instanceof ArrayBuffer ? ': wrap it, new Uint8Array(buffer)' : ''),
    );
  }
}

function checkRange(region: string, edit: MangleEdit, available: number): void {
  const { offset, length } = edit;
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > available) {
    throw new MangleRangeError(region, offset, length, available);
  }
}

/** Builds the edited packet, fixes its length fields and recomputes its checksums. */
function spliceAndRepair(ip: IpHeader, absoluteOffset: number, edit: MangleEdit): Buffer {
  const original = ip.bytes;
  const newLength = original.length - edit.length + edit.replacement.length;
  const limitedLength = ip.kind === 'ipv4' ? newLength : newLength - IPV6_HEADER_LENGTH;
  if (limitedLength > MAX_LENGTH_FIELD) {
    throw new PacketTooLargeError(ip.kind === 'ipv4' ? 'IPv4 total length' : 'IPv6 payload length', limitedLength, MAX_LENGTH_FIELD);
  }
  const result = Buffer.allocUnsafe(newLength);
  result.set(original.subarray(0, absoluteOffset), 0);
  result.set(edit.replacement, absoluteOffset);
  result.set(original.subarray(absoluteOffset + edit.length), absoluteOffset + edit.replacement.length);

  const view = dataViewOf(result);
  if (ip.kind === 'ipv4') view.setUint16(IPV4_TOTAL_LENGTH, newLength);
  else view.setUint16(IPV6_PAYLOAD_LENGTH, newLength - IPV6_HEADER_LENGTH);
  // UDP length follows the packet, unless the datagram spans fragments (then it is not ours to set).
  const udpEnd = ip.upperLayerOffset + UDP_HEADER_LENGTH;
  if (ip.upperLayerProtocol === IP_PROTOCOLS.udp && !ip.isFragment && newLength >= udpEnd) {
    view.setUint16(ip.upperLayerOffset + UDP_LENGTH, newLength - ip.upperLayerOffset);
  }
  recomputeChecksums(result); // re-parses: an edit that broke a header throws MalformedPacketError here
  return result;
}

/**
 * Packet helpers, the TypeScript counterpart of libnetfilter_queue's pktbuff and protocol helpers:
 * checked zero-copy views of IPv4, IPv6 (extension headers walked), TCP, UDP, ICMP and ICMPv6
 * headers; internet checksums; payload mangling with lengths and checksums fixed up; and
 * iptables-LOG-style text renderings.
 *
 * ```ts
 * import { describePacket, mangle, parseIp } from '@nfq/nfqueue';
 * queue.on('packet', (packet) => {
 *   const { l4 } = parseIp(packet.payload);
 *   if (l4?.kind !== 'udp') return packet.accept();
 *   console.log(describePacket(packet.payload));
 *   packet.accept({ payload: mangle(packet.payload, { offset: 0, length: 5, replacement: Buffer.from('howdy') }) });
 * });
 * ```
 *
 * @module
 */
export { type ParseOptions } from './bytes.js';
export {
  MalformedPacketError,
  type MalformedPacketCode,
  PacketTooLargeError,
  MangleArgumentError,
  MangleRangeError,
  MangleUnsupportedError,
} from './errors.js';
export { Ipv4Header, type Ipv4Flags, IPV4_MIN_HEADER_LENGTH, formatIpv4Address } from './ipv4.js';
export {
  Ipv6Header,
  type Ipv6ExtensionHeader,
  type Ipv6FragmentInfo,
  IPV6_HEADER_LENGTH,
  IPV6_EXTENSION_HEADERS,
  IPV6_NO_NEXT_HEADER,
  formatIpv6Address,
} from './ipv6.js';
export { TcpHeader, type TcpFlags, TCP_FLAGS, TCP_MIN_HEADER_LENGTH } from './tcp.js';
export { UdpHeader, UDP_HEADER_LENGTH } from './udp.js';
export {
  IcmpHeader,
  Icmpv6Header,
  IcmpMessageView,
  ICMP_HEADER_LENGTH,
  ICMP_ECHO_REQUEST,
  ICMP_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
} from './icmp.js';
export {
  parseIp,
  parseIpHeader,
  parseTransport,
  IP_PROTOCOLS,
  type IpHeader,
  type TransportHeader,
  type ParsedPacket,
} from './parse.js';
export {
  onesComplementSum,
  internetChecksum,
  pseudoHeaderSum,
  computeIpv4HeaderChecksum,
  verifyIpv4HeaderChecksum,
  computeTcpChecksum,
  verifyTcpChecksum,
  computeUdpChecksum,
  verifyUdpChecksum,
  computeIcmpChecksum,
  verifyIcmpChecksum,
  computeIcmpv6Checksum,
  verifyIcmpv6Checksum,
} from './checksum.js';
export {
  mangle,
  mangleIp,
  recomputeChecksums,
  verifyChecksums,
  MAX_LENGTH_FIELD,
  type MangleEdit,
  type ChecksumReport,
} from './mangle.js';
export { formatIpv4, formatIpv6, formatIp, formatTcp, formatUdp, formatIcmp, formatTransport, describePacket } from './format.js';

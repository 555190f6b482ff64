/**
 * One-line text renderings of headers, in the iptables LOG style that libnetfilter_queue's
 * `nfq_ip_snprintf`, `nfq_ip6_snprintf`, `nfq_tcp_snprintf` and `nfq_udp_snprintf` produce:
 * `KEY=value` fields, each followed by one space.
 */
import { MalformedPacketError } from './errors.js';
import type { IcmpHeader, Icmpv6Header } from './icmp.js';
import type { Ipv4Header } from './ipv4.js';
import type { Ipv6Header } from './ipv6.js';
import { type TransportHeader, parseIpHeader, parseTransport } from './parse.js';
import type { TcpHeader } from './tcp.js';
import type { UdpHeader } from './udp.js';

const hexByte = (value: number): string => value.toString(16).toUpperCase().padStart(2, '0');

/**
 * The IPv4 header as `SRC=… DST=… LEN=… TOS=0x.. PREC=0x.. TTL=… ID=… [CE ][DF ][MF ][FRAG:n ]PROTO=… `:
 * TOS is the TOS byte without the precedence bits (`tos & 0x1e`), PREC its precedence (`tos & 0xe0`),
 * FRAG the fragment offset in 8-byte units, as the iptables LOG target writes them.
 */
export function formatIpv4(header: Ipv4Header): string {
  const flags = header.flags;
  let text =
    `SRC=${header.source} DST=${header.destination} LEN=${header.totalLength} ` +
    `TOS=0x${hexByte(header.tos & 0x1e)} PREC=0x${hexByte(header.tos & 0xe0)} TTL=${header.ttl} ID=${header.id} `;
  if (flags.reserved) text += 'CE ';
  if (flags.dontFragment) text += 'DF ';
  if (flags.moreFragments) text += 'MF ';
  if (header.fragmentOffset !== 0) text += `FRAG:${header.fragmentOffset} `;
  return `${text}PROTO=${header.protocol} `;
}

/**
 * The IPv6 header as `SRC=… DST=… LEN=… TC=0x.. HOPLIMIT=… FLOWLBL=… PROTO=… `: LEN counts the
 * fixed header too (payload length + 40), PROTO is the upper-layer protocol after the extension
 * headers, and `FRAG:n ` (offset in 8-byte units) and `MF ` appear for fragments.
 */
export function formatIpv6(header: Ipv6Header): string {
  let text =
    `SRC=${header.source} DST=${header.destination} LEN=${header.payloadLength + 40} ` +
    `TC=0x${hexByte(header.trafficClass)} HOPLIMIT=${header.hopLimit} FLOWLBL=${header.flowLabel} `;
  const fragment = header.fragment;
  if (fragment?.moreFragments) text += 'MF ';
  if (fragment !== undefined && fragment.offset !== 0) text += `FRAG:${fragment.offset} `;
  return `${text}PROTO=${header.upperLayerProtocol} `;
}

/** Either IP header, by its kind. */
export function formatIp(header: Ipv4Header | Ipv6Header): string {
  return header.kind === 'ipv4' ? formatIpv4(header) : formatIpv6(header);
}

/**
 * The TCP header as `SPT=… DPT=… SEQ=… ACK=… WINDOW=… RES=0x.. [CWR ][ECE ][URG ][ACK ][PSH ][RST ][SYN ][FIN ]`:
 * RES is the reserved nibble shifted left by 2 (the iptables LOG value), the flags in LOG order.
 */
export function formatTcp(header: TcpHeader): string {
  const reservedNibble = header.bytes[12]! & 0x0f;
  let text =
    `SPT=${header.sourcePort} DPT=${header.destinationPort} SEQ=${header.sequenceNumber} ` +
    `ACK=${header.acknowledgmentNumber} WINDOW=${header.window} RES=0x${hexByte(reservedNibble << 2).toLowerCase()} `;
  const flags = header.flags;
  if (flags.cwr) text += 'CWR ';
  if (flags.ece) text += 'ECE ';
  if (flags.urg) text += 'URG ';
  if (flags.ack) text += 'ACK ';
  if (flags.psh) text += 'PSH ';
  if (flags.rst) text += 'RST ';
  if (flags.syn) text += 'SYN ';
  if (flags.fin) text += 'FIN ';
  return text;
}

/** The UDP header as `SPT=… DPT=… LEN=… ` (LEN is the UDP length field, as in the iptables LOG target). */
export function formatUdp(header: UdpHeader): string {
  return `SPT=${header.sourcePort} DPT=${header.destinationPort} LEN=${header.length} `;
}

/** An ICMP or ICMPv6 header as `TYPE=… CODE=… ` and, for echo messages, `ID=… SEQ=… `. */
export function formatIcmp(header: IcmpHeader | Icmpv6Header): string {
  const text = `TYPE=${header.type} CODE=${header.code} `;
  return header.isEcho ? `${text}ID=${header.identifier} SEQ=${header.sequenceNumber} ` : text;
}

/** Any L4 header, by its kind. */
export function formatTransport(header: TransportHeader): string {
  switch (header.kind) {
    case 'tcp':
      return formatTcp(header);
    case 'udp':
      return formatUdp(header);
    default:
      return formatIcmp(header);
  }
}

/**
 * One line describing an IP packet, e.g.
 * `SRC=127.0.0.1 DST=127.0.0.1 LEN=31 TOS=0x00 PREC=0x00 TTL=64 ID=53283 DF PROTO=17 SPT=50939 DPT=9999 LEN=11`.
 * Never throws, so it can go straight into a log: a packet cut by the copy range gets
 * `TRUNCATED [n of m bytes]`, an unreadable L4 header `INCOMPLETE [n bytes]` (as the iptables LOG
 * target writes it), and bytes that are not an IP packet `MALFORMED [what at offset n: detail]`.
 */
export function describePacket(bytes: Uint8Array): string {
  let ip;
  try {
    ip = parseIpHeader(bytes, { allowTruncated: true });
  } catch (error) {
    return describeError(error);
  }
  let text = formatIp(ip);
  if (ip.truncated) {
    const declared = ip.kind === 'ipv4' ? ip.totalLength : ip.payloadLength + 40;
    text += `TRUNCATED [${ip.bytes.length} of ${declared} bytes] `;
  }
  try {
    const l4 = parseTransport(ip, { allowTruncated: true });
    if (l4 !== undefined) text += formatTransport(l4);
  } catch (error) {
    if (!(error instanceof MalformedPacketError)) throw error;
    text += `INCOMPLETE [${ip.bytes.length - ip.upperLayerOffset} bytes] `;
  }
  return text.trimEnd();
}

function describeError(error: unknown): string {
  if (error instanceof MalformedPacketError) return `MALFORMED [${error.what} at offset ${error.offset}: ${error.detail}]`;
  throw error;
}

import { describe, expect, it } from 'vitest';
import {
  IcmpHeader,
  Ipv4Header,
  Ipv6Header,
  TcpHeader,
  UdpHeader,
  describePacket,
  formatIcmp,
  formatIp,
  formatIpv4,
  formatIpv6,
  formatTcp,
  formatUdp,
  parseIp,
} from '../../src/index.js';
import { IPV4_OPTIONS_ICMP_ECHO, IPV4_TCP_WITH_PAYLOAD, IPV6_EXTENSIONS_ICMPV6_ECHO, IPV6_ICMPV6_ECHO, fixturePacket } from './header-samples.js';

const UDP4 = fixturePacket('kernel-udp4-input-batch', 0);

describe('text renderings in the iptables LOG style of nfq_*_snprintf', () => {
  it('renders an IPv4 header with its DF flag, and the UDP header', () => {
    const { ip, l4 } = parseIp(UDP4);
    expect(formatIpv4(ip as Ipv4Header)).toBe('SRC=127.0.0.1 DST=127.0.0.1 LEN=31 TOS=0x00 PREC=0x00 TTL=64 ID=53283 DF PROTO=17 ');
    expect(formatIp(ip)).toBe(formatIpv4(ip as Ipv4Header));
    expect(formatUdp(l4 as UdpHeader)).toBe('SPT=50939 DPT=9999 LEN=11 ');
  });

  it('splits the TOS byte into TOS and precedence bits', () => {
    // TOS 0xb8: precedence bits 0xa0, TOS bits 0x18 (the lowest bit is neither).
    expect(formatIpv4(new Ipv4Header(IPV4_OPTIONS_ICMP_ECHO))).toBe(
      'SRC=192.0.2.1 DST=198.51.100.7 LEN=36 TOS=0x18 PREC=0xA0 TTL=1 ID=4660 PROTO=1 ',
    );
  });

  it('shows the MF flag, the fragment offset and the reserved (CE) flag', () => {
    const packet = Buffer.from(IPV4_OPTIONS_ICMP_ECHO);
    packet.writeUInt16BE(0x8000 | 0x2000 | 185, 6);
    expect(formatIpv4(new Ipv4Header(packet))).toBe('SRC=192.0.2.1 DST=198.51.100.7 LEN=36 TOS=0x18 PREC=0xA0 TTL=1 ID=4660 CE MF FRAG:185 PROTO=1 ');
  });

  it('renders an IPv6 header with LEN counting the fixed header', () => {
    const ip = new Ipv6Header(IPV6_ICMPV6_ECHO);
    expect(formatIpv6(ip)).toBe('SRC=2001:db8::1 DST=2001:db8::1:0:0:1 LEN=51 TC=0x2E HOPLIMIT=255 FLOWLBL=74565 PROTO=58 ');
    expect(formatIp(ip)).toBe(formatIpv6(ip));
  });

  it('renders TCP ports, numbers, window, reserved bits and flags in LOG order', () => {
    const { l4 } = parseIp(fixturePacket('kernel-tcp-gso'), { allowTruncated: true });
    expect(formatTcp(l4 as TcpHeader)).toBe('SPT=9998 DPT=35124 SEQ=577416299 ACK=2080093984 WINDOW=64 RES=0x00 ACK PSH ');
    const segment = Buffer.from((parseIp(IPV4_TCP_WITH_PAYLOAD).l4 as TcpHeader).bytes);
    segment[12] = 0x6e; // data offset 6, the three reserved bits set
    segment[13] = 0xff; // every flag
    expect(formatTcp(new TcpHeader(segment))).toBe(
      'SPT=40000 DPT=80 SEQ=1000 ACK=2000 WINDOW=65535 RES=0x38 CWR ECE URG ACK PSH RST SYN FIN ',
    );
  });

  it('renders ICMP with echo identifier and sequence, and other types without', () => {
    const echo = parseIp(IPV4_OPTIONS_ICMP_ECHO).l4 as IcmpHeader;
    expect(formatIcmp(echo)).toBe('TYPE=8 CODE=0 ID=258 SEQ=3 ');
    const unreachable = Buffer.from(echo.bytes);
    unreachable[0] = 3;
    unreachable[1] = 1;
    expect(formatIcmp(new IcmpHeader(unreachable))).toBe('TYPE=3 CODE=1 ');
  });
});

describe('describePacket', () => {
  it('gives one line for IP and L4 together', () => {
    expect(describePacket(UDP4)).toBe(
      'SRC=127.0.0.1 DST=127.0.0.1 LEN=31 TOS=0x00 PREC=0x00 TTL=64 ID=53283 DF PROTO=17 SPT=50939 DPT=9999 LEN=11',
    );
    expect(describePacket(fixturePacket('kernel-udp6-mark-priority'))).toBe(
      'SRC=::1 DST=::1 LEN=50 TC=0x00 HOPLIMIT=64 FLOWLBL=395959 PROTO=17 SPT=38036 DPT=9999 LEN=10',
    );
    expect(describePacket(IPV6_EXTENSIONS_ICMPV6_ECHO)).toBe(
      'SRC=2001:db8::1 DST=2001:db8::1:0:0:1 LEN=75 TC=0x00 HOPLIMIT=64 FLOWLBL=0 PROTO=58 TYPE=128 CODE=0 ID=66 SEQ=1',
    );
  });

  it('says when the copy range cut the packet, and still renders the headers', () => {
    expect(describePacket(fixturePacket('kernel-tcp-gso'))).toBe(
      'SRC=127.0.0.1 DST=127.0.0.1 LEN=7292 TOS=0x00 PREC=0x00 TTL=64 ID=53975 DF PROTO=6 TRUNCATED [80 of 7292 bytes] ' +
        'SPT=9998 DPT=35124 SEQ=577416299 ACK=2080093984 WINDOW=64 RES=0x00 ACK PSH',
    );
  });

  it('gives no L4 part for a non-first fragment', () => {
    const later = Buffer.from(IPV6_EXTENSIONS_ICMPV6_ECHO);
    later.writeUInt16BE((185 << 3) | 1, 50);
    expect(describePacket(later)).toBe('SRC=2001:db8::1 DST=2001:db8::1:0:0:1 LEN=75 TC=0x00 HOPLIMIT=64 FLOWLBL=0 MF FRAG:185 PROTO=60');
  });

  it('never throws on bad bytes', () => {
    expect(describePacket(new Uint8Array(0))).toBe('MALFORMED [IP header at offset 0: the packet is empty]');
    expect(describePacket(Uint8Array.of(0x45, 0, 0))).toBe('MALFORMED [IPv4 header at offset 0: needs 20 bytes, 3 left]');
    expect(describePacket(Uint8Array.of(0x15))).toBe('MALFORMED [IP version at offset 0: is 1, neither 4 nor 6]');
    // A TCP packet of which only 10 TCP bytes were captured.
    const cut = IPV4_TCP_WITH_PAYLOAD.subarray(0, 30);
    expect(describePacket(cut)).toBe(
      'SRC=10.0.0.1 DST=10.0.0.2 LEN=62 TOS=0x00 PREC=0x00 TTL=64 ID=17185 DF PROTO=6 TRUNCATED [30 of 62 bytes] INCOMPLETE [10 bytes]',
    );
  });
});

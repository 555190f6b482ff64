import { describe, expect, it } from 'vitest';
import {
  IcmpHeader,
  Icmpv6Header,
  Ipv4Header,
  Ipv6Header,
  TCP_FLAGS,
  TcpHeader,
  UdpHeader,
  formatIpv6Address,
  parseIp,
} from '../../src/index.js';
import { IPV4_OPTIONS_ICMP_ECHO, IPV4_TCP_WITH_PAYLOAD, IPV6_EXTENSIONS_ICMPV6_ECHO, IPV6_ICMPV6_ECHO, fixturePacket, hex } from './header-samples.js';

describe('Ipv4Header and UdpHeader on real packets', () => {
  it('reads every field of a UDP packet the kernel queued on INPUT', () => {
    const { ip, l4 } = parseIp(fixturePacket('kernel-udp4-input-batch', 0));
    expect(ip).toBeInstanceOf(Ipv4Header);
    if (ip.kind !== 'ipv4') throw new Error('unreachable');
    expect({
      version: ip.version,
      ihl: ip.ihl,
      headerLength: ip.headerLength,
      tos: ip.tos,
      dscp: ip.dscp,
      ecn: ip.ecn,
      totalLength: ip.totalLength,
      id: ip.id,
      flags: ip.flags,
      dontFragment: ip.dontFragment,
      moreFragments: ip.moreFragments,
      fragmentOffset: ip.fragmentOffset,
      isFragment: ip.isFragment,
      ttl: ip.ttl,
      protocol: ip.protocol,
      checksum: ip.checksum,
      source: ip.source,
      destination: ip.destination,
      truncated: ip.truncated,
    }).toEqual({
      version: 4,
      ihl: 5,
      headerLength: 20,
      tos: 0,
      dscp: 0,
      ecn: 0,
      totalLength: 31,
      id: 0xd023,
      flags: { reserved: false, dontFragment: true, moreFragments: false },
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      isFragment: false,
      ttl: 64,
      protocol: 17,
      checksum: 0x6ca8,
      source: '127.0.0.1',
      destination: '127.0.0.1',
      truncated: false,
    });
    expect([...ip.sourceBytes]).toEqual([127, 0, 0, 1]);
    expect([...ip.destinationBytes]).toEqual([127, 0, 0, 1]);
    expect(ip.options.length).toBe(0);
    expect(ip.payload.length).toBe(11);

    expect(l4).toBeInstanceOf(UdpHeader);
    if (l4?.kind !== 'udp') throw new Error('unreachable');
    expect([l4.sourcePort, l4.destinationPort, l4.length, l4.checksum]).toEqual([50939, 9999, 11, 0x3f5c]);
    expect(Buffer.from(l4.payload).toString()).toBe('one');
  });

  it('reads a UDP packet queued on OUTPUT, whose payload text is known', () => {
    const { ip, l4 } = parseIp(fixturePacket('kernel-udp4-output'));
    expect([ip.kind, ip.upperLayerProtocol, ip.upperLayerOffset]).toEqual(['ipv4', 17, 20]);
    if (ip.kind !== 'ipv4' || l4?.kind !== 'udp') throw new Error('unreachable');
    expect([ip.totalLength, ip.id, ip.ttl, ip.checksum]).toEqual([66, 0x699e, 64, 0xd30a]);
    expect([l4.sourcePort, l4.destinationPort, l4.length, l4.checksum]).toEqual([0xba8c, 9999, 46, 0xfe41]);
    expect(Buffer.from(l4.payload).toString()).toBe('hello from the kernel fixture recorder');
  });

  it('is zero-copy: views share the received bytes', () => {
    const bytes = fixturePacket('kernel-udp4-input-batch', 2);
    const { ip, l4 } = parseIp(bytes);
    expect(ip.bytes.buffer).toBe(bytes.buffer);
    expect(l4!.payload.buffer).toBe(bytes.buffer);
    bytes[bytes.length - 1] = 0x21; // the views read through to the change
    expect(Buffer.from(l4!.payload).toString()).toBe('thre!');
  });

  it('reads the options and respects the total length over trailing bytes', () => {
    const ip = new Ipv4Header(IPV4_OPTIONS_ICMP_ECHO);
    expect([ip.ihl, ip.headerLength, ip.totalLength, ip.bytes.length]).toEqual([6, 24, 36, 36]);
    expect([...ip.options]).toEqual([0x94, 0x04, 0x00, 0x00]);
    expect([ip.tos, ip.dscp, ip.ecn, ip.ttl, ip.protocol, ip.id]).toEqual([0xb8, 46, 0, 1, 1, 0x1234]);
    expect([ip.source, ip.destination]).toEqual(['192.0.2.1', '198.51.100.7']);
    expect(ip.payload.length).toBe(12); // the ICMP message, without the 2 padding bytes
    expect(ip.headerBytes.length).toBe(24);
  });

  it('tells fragments apart', () => {
    const first = Buffer.from(IPV4_OPTIONS_ICMP_ECHO.subarray(0, 36));
    first.writeUInt16BE(0x2000, 6); // MF, offset 0
    const firstView = new Ipv4Header(first);
    expect([firstView.isFragment, firstView.isNonFirstFragment, firstView.moreFragments]).toEqual([true, false, true]);
    expect(parseIp(first).l4).toBeInstanceOf(IcmpHeader);

    const later = Buffer.from(first);
    later.writeUInt16BE(0x00b9, 6); // offset 185 (1480 bytes), last fragment
    const laterView = new Ipv4Header(later);
    expect([laterView.isFragment, laterView.isNonFirstFragment, laterView.fragmentOffset, laterView.fragmentByteOffset]).toEqual([
      true,
      true,
      185,
      1480,
    ]);
    expect(parseIp(later).l4).toBeUndefined();
  });

  it('reads a packet cut by the copy range only when allowed', () => {
    const cut = fixturePacket('kernel-copy-range-32'); // 32 of 228 bytes
    expect(() => parseIp(cut)).toThrow(expect.objectContaining({ code: 'ERR_PACKET_TRUNCATED', what: 'IPv4 payload' }));
    const { ip, l4 } = parseIp(cut, { allowTruncated: true });
    expect([ip.truncated, ip.bytes.length]).toEqual([true, 32]);
    if (ip.kind !== 'ipv4' || l4?.kind !== 'udp') throw new Error('unreachable');
    expect([ip.totalLength, l4.length, l4.truncated, l4.destinationPort, l4.payload.length]).toEqual([228, 208, true, 9999, 4]);
  });
});

describe('TcpHeader', () => {
  it('reads the TCP segment of a real GSO packet cut to 80 bytes', () => {
    const { ip, l4 } = parseIp(fixturePacket('kernel-tcp-gso'), { allowTruncated: true });
    expect(l4).toBeInstanceOf(TcpHeader);
    if (ip.kind !== 'ipv4' || l4?.kind !== 'tcp') throw new Error('unreachable');
    expect([ip.totalLength, ip.truncated, ip.protocol, ip.id]).toEqual([7292, true, 6, 0xd2d7]);
    expect({
      sourcePort: l4.sourcePort,
      destinationPort: l4.destinationPort,
      sequenceNumber: l4.sequenceNumber,
      acknowledgmentNumber: l4.acknowledgmentNumber,
      dataOffset: l4.dataOffset,
      headerLength: l4.headerLength,
      reserved: l4.reserved,
      rawFlags: l4.rawFlags,
      window: l4.window,
      checksum: l4.checksum,
      urgentPointer: l4.urgentPointer,
    }).toEqual({
      sourcePort: 9998,
      destinationPort: 35124,
      sequenceNumber: 0x226aac6b,
      acknowledgmentNumber: 0x7bfbb720,
      dataOffset: 8,
      headerLength: 32,
      reserved: 0,
      rawFlags: TCP_FLAGS.psh | TCP_FLAGS.ack,
      window: 64,
      checksum: 0x1a71,
      urgentPointer: 0,
    });
    expect(l4.flags).toEqual({ fin: false, syn: false, rst: false, psh: true, ack: true, urg: false, ece: false, cwr: false, ae: false });
    // NOP, NOP, timestamps (kind 8, length 10).
    expect(Buffer.from(l4.options).toString('hex')).toBe('0101080afe6b56cc95dabd33');
    expect(Buffer.from(l4.payload).toString()).toBe('B'.repeat(28));
  });

  it('reads a hand-made segment with an MSS option and every flag bit on its own', () => {
    const { l4 } = parseIp(IPV4_TCP_WITH_PAYLOAD);
    if (l4?.kind !== 'tcp') throw new Error('unreachable');
    expect([l4.sourcePort, l4.destinationPort, l4.sequenceNumber, l4.acknowledgmentNumber]).toEqual([40000, 80, 1000, 2000]);
    expect([...l4.options]).toEqual([2, 4, 0x05, 0xb4]);
    expect(Buffer.from(l4.payload).toString()).toBe('GET / HTTP/1.0\r\n\r\n');
    const segment = Buffer.from(l4.bytes);
    segment[12] = 0x61; // data offset 6, AE bit
    segment[13] = 0xe7; // CWR ECE URG RST SYN FIN
    expect(new TcpHeader(segment).flags).toEqual({ fin: true, syn: true, rst: true, psh: false, ack: false, urg: true, ece: true, cwr: true, ae: true });
    expect(new TcpHeader(segment).rawFlags).toBe(0x1e7);
  });
});

describe('IcmpHeader and Icmpv6Header', () => {
  it('reads an ICMP echo request behind IPv4 options', () => {
    const { l4 } = parseIp(IPV4_OPTIONS_ICMP_ECHO);
    expect(l4).toBeInstanceOf(IcmpHeader);
    if (l4?.kind !== 'icmp') throw new Error('unreachable');
    expect([l4.type, l4.code, l4.checksum, l4.identifier, l4.sequenceNumber, l4.isEcho]).toEqual([8, 0, 0x182a, 0x0102, 3, true]);
    expect([...l4.restOfHeader]).toEqual([0x01, 0x02, 0x00, 0x03]);
    expect(Buffer.from(l4.payload).toString()).toBe('ping');
  });

  it('reads an ICMPv6 echo request and the IPv6 fixed header', () => {
    const { ip, l4 } = parseIp(IPV6_ICMPV6_ECHO);
    expect(ip).toBeInstanceOf(Ipv6Header);
    if (ip.kind !== 'ipv6' || l4?.kind !== 'icmpv6') throw new Error('unreachable');
    expect([ip.trafficClass, ip.dscp, ip.ecn, ip.flowLabel, ip.payloadLength, ip.nextHeader, ip.hopLimit]).toEqual([
      0x2e, 11, 2, 0x12345, 11, 58, 255,
    ]);
    expect([ip.source, ip.destination]).toEqual(['2001:db8::1', '2001:db8::1:0:0:1']);
    expect(l4).toBeInstanceOf(Icmpv6Header);
    expect([l4.type, l4.code, l4.checksum, l4.identifier, l4.sequenceNumber, l4.isEcho]).toEqual([128, 0, 0x5f9f, 0x42, 1, true]);
    expect(Buffer.from(l4.payload).toString()).toBe('abc');
  });

  it('does not take protocol 1 under IPv6 or 58 under IPv4 for ICMP', () => {
    const v6 = Buffer.from(IPV6_ICMPV6_ECHO);
    v6[6] = 1;
    expect(parseIp(v6).l4).toBeUndefined();
    const v4 = Buffer.from(IPV4_OPTIONS_ICMP_ECHO);
    v4[9] = 58;
    expect(parseIp(v4).l4).toBeUndefined();
  });
});

describe('Ipv6Header', () => {
  it('reads every field of a real UDP packet', () => {
    const { ip, l4 } = parseIp(fixturePacket('kernel-udp6-mark-priority'));
    if (ip.kind !== 'ipv6' || l4?.kind !== 'udp') throw new Error('unreachable');
    expect({
      version: ip.version,
      trafficClass: ip.trafficClass,
      flowLabel: ip.flowLabel,
      payloadLength: ip.payloadLength,
      nextHeader: ip.nextHeader,
      hopLimit: ip.hopLimit,
      source: ip.source,
      destination: ip.destination,
      upperLayerProtocol: ip.upperLayerProtocol,
      upperLayerOffset: ip.upperLayerOffset,
      extensionHeaders: ip.extensionHeaders,
      isFragment: ip.isFragment,
      isNonFirstFragment: ip.isNonFirstFragment,
    }).toEqual({
      version: 6,
      trafficClass: 0,
      flowLabel: 0x60ab7,
      payloadLength: 10,
      nextHeader: 17,
      hopLimit: 64,
      source: '::1',
      destination: '::1',
      upperLayerProtocol: 17,
      upperLayerOffset: 40,
      extensionHeaders: [],
      isFragment: false,
      isNonFirstFragment: false,
    });
    expect(ip.sourceBytes.length).toBe(16);
    expect([l4.sourcePort, l4.destinationPort, l4.length, l4.checksum]).toEqual([0x9494, 9999, 10, 0xcdfe]);
    expect(Buffer.from(l4.payload).toString()).toBe('v6');
  });

  it('walks hop-by-hop, fragment and destination options to the upper layer', () => {
    const { ip, l4 } = parseIp(IPV6_EXTENSIONS_ICMPV6_ECHO);
    if (ip.kind !== 'ipv6') throw new Error('unreachable');
    expect(ip.extensionHeaders.map(({ type, offset, length, nextHeader }) => ({ type, offset, length, nextHeader }))).toEqual([
      { type: 0, offset: 40, length: 8, nextHeader: 44 },
      { type: 44, offset: 48, length: 8, nextHeader: 60 },
      { type: 60, offset: 56, length: 8, nextHeader: 58 },
    ]);
    expect(ip.extensionHeaders[1]!.fragment).toEqual({ offset: 0, moreFragments: false, identification: 0xdeadbeef });
    expect([ip.upperLayerProtocol, ip.upperLayerOffset, ip.isFragment, ip.isNonFirstFragment]).toEqual([58, 64, false, false]); // atomic
    expect(ip.payload.length).toBe(35);
    expect(ip.upperLayerBytes.length).toBe(11);
    expect(l4?.kind).toBe('icmpv6');
  });

  it('stops after the fragment header of a non-first fragment', () => {
    const later = Buffer.from(IPV6_EXTENSIONS_ICMPV6_ECHO);
    later.writeUInt16BE((185 << 3) | 1, 50); // fragment offset 185, M set
    const { ip, l4 } = parseIp(later);
    if (ip.kind !== 'ipv6') throw new Error('unreachable');
    expect(ip.extensionHeaders.map((header) => header.type)).toEqual([0, 44]);
    expect(ip.fragment).toEqual({ offset: 185, moreFragments: true, identification: 0xdeadbeef });
    expect([ip.upperLayerProtocol, ip.upperLayerOffset, ip.isFragment, ip.isNonFirstFragment]).toEqual([60, 56, true, true]);
    expect(l4).toBeUndefined();
  });

  it('measures routing headers in 8-byte units and AH in 4-byte units plus 2', () => {
    const packet = hex(`
      60000000 0034 2b 40                 # payload length 52, next header 43 (routing)
      00000000000000000000000000000001    # ::1
      00000000000000000000000000000001    # ::1
      33 00 00 00 00000000                # routing: next 51 (AH), length 0 (8 bytes), type 0, segments left 0
      11 04 0000 00000100 00000001        # AH: next 17, length 4 ((4 + 2) * 4 = 24 bytes), SPI 256, sequence 1
      000000000000000000000000            # AH ICV (12 bytes)
      1388 1389 0014 0000                 # UDP 5000 -> 5001, length 20, no checksum
      48656c6c6f20576f726c6421            # "Hello World!"
    `);
    const { ip, l4 } = parseIp(packet);
    if (ip.kind !== 'ipv6' || l4?.kind !== 'udp') throw new Error('unreachable');
    expect(ip.extensionHeaders.map(({ type, length }) => [type, length])).toEqual([
      [43, 8],
      [51, 24],
    ]);
    expect([ip.upperLayerProtocol, ip.upperLayerOffset]).toEqual([17, 72]);
    expect(Buffer.from(l4.payload).toString()).toBe('Hello World!');
  });

  it('stops at no-next-header (59) and ESP (50)', () => {
    for (const stop of [59, 50]) {
      const packet = Buffer.concat([hex('60000000 0008 00 40'), Buffer.alloc(32), Buffer.from([stop, 0, 1, 4, 0, 0, 0, 0])]);
      const { ip, l4 } = parseIp(packet);
      expect([ip.upperLayerProtocol, ip.upperLayerOffset, l4]).toEqual([stop, 48, undefined]);
    }
  });
});

describe('formatIpv6Address (RFC 5952)', () => {
  const address = (text: string): Uint8Array => Buffer.from(text.replace(/:/g, ''), 'hex');
  it.each([
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['20010db8000000000001000000000000', '2001:db8:0:0:1::'], // the longest run, even when later
    ['fe800000000000000202b3fffe1e8329', 'fe80::202:b3ff:fe1e:8329'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
    ['ff020000000000000000000000000001', 'ff02::1'],
    ['20010DB8AAAA00000000000000000000', '2001:db8:aaaa::'],
  ])('%s is %s', (bytes, text) => {
    expect(formatIpv6Address(address(bytes))).toBe(text);
  });
});

import { describe, expect, it } from 'vitest';
import {
  MalformedPacketError,
  MangleRangeError,
  MangleUnsupportedError,
  PacketTooLargeError,
  mangle,
  mangleIp,
  parseIp,
  recomputeChecksums,
  verifyChecksums,
} from '../../src/index.js';
import { IPV4_OPTIONS_ICMP_ECHO, IPV4_TCP_WITH_PAYLOAD, IPV6_EXTENSIONS_ICMPV6_ECHO, IPV6_ICMPV6_ECHO, fixturePacket } from './header-samples.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();
const bytesOf = (value: string): Buffer => Buffer.from(value);

/** Parses `packet` and checks that its lengths are consistent and all its checksums hold. */
function expectWellFormed(packet: Buffer): ReturnType<typeof parseIp> {
  const parsed = parseIp(packet);
  const { ip, l4 } = parsed;
  if (ip.kind === 'ipv4') expect(ip.totalLength).toBe(packet.length);
  else expect(ip.payloadLength).toBe(packet.length - 40);
  if (l4?.kind === 'udp') expect(l4.length).toBe(packet.length - ip.upperLayerOffset);
  expect(verifyChecksums(packet)).toEqual({ ipHeader: ip.kind === 'ipv4' ? true : undefined, transport: true });
  return parsed;
}

describe('mangle (offset relative to the L4 payload)', () => {
  it('grows a UDP/IPv4 payload and leaves the input untouched', () => {
    const original = fixturePacket('kernel-udp4-input-batch', 0); // payload "one"
    const snapshot = Buffer.from(original);
    const edited = mangle(original, { offset: 0, length: 3, replacement: bytesOf('one, two, three') });
    expect(Buffer.isBuffer(edited)).toBe(true);
    expect(original.equals(snapshot)).toBe(true);
    expect(edited.length).toBe(original.length + 12);
    const { ip, l4 } = expectWellFormed(edited);
    expect(text(l4!.payload)).toBe('one, two, three');
    expect(ip.kind === 'ipv4' && [ip.id, ip.ttl, ip.dontFragment]).toEqual([0xd023, 64, true]);
  });

  it('shrinks a UDP/IPv4 payload whose checksum was partial (queued on OUTPUT)', () => {
    const original = fixturePacket('kernel-udp4-output'); // "hello from the kernel fixture recorder"
    const edited = mangle(original, { offset: 0, length: 'hello from the '.length, replacement: new Uint8Array(0) });
    const { l4 } = expectWellFormed(edited);
    expect(text(l4!.payload)).toBe('kernel fixture recorder');
    expect(edited.length).toBe(original.length - 15);
  });

  it('inserts in the middle of a payload', () => {
    const edited = mangle(fixturePacket('kernel-udp4-output'), { offset: 6, length: 0, replacement: bytesOf('again ') });
    expect(text(expectWellFormed(edited).l4!.payload)).toBe('hello again from the kernel fixture recorder');
  });

  it('grows a UDP/IPv6 payload, fixing the payload length and the UDP length', () => {
    const edited = mangle(fixturePacket('kernel-udp6-mark-priority'), { offset: 0, length: 2, replacement: bytesOf('IPv6 grows') });
    const { ip, l4 } = expectWellFormed(edited);
    expect([ip.kind, text(l4!.payload), ip.kind === 'ipv6' && ip.flowLabel]).toEqual(['ipv6', 'IPv6 grows', 0x60ab7]);
  });

  it('edits a TCP payload after the options, growing and then shrinking it', () => {
    const grown = mangle(IPV4_TCP_WITH_PAYLOAD, { offset: 4, length: 1, replacement: bytesOf('/index.html') });
    const parsedGrown = expectWellFormed(grown);
    expect(text(parsedGrown.l4!.payload)).toBe('GET /index.html HTTP/1.0\r\n\r\n');
    if (parsedGrown.l4?.kind !== 'tcp') throw new Error('unreachable');
    expect([...parsedGrown.l4.options]).toEqual([2, 4, 0x05, 0xb4]);
    expect([parsedGrown.l4.sequenceNumber, parsedGrown.l4.acknowledgmentNumber]).toEqual([1000, 2000]); // not ours to adjust

    const shrunk = mangle(grown, { offset: 0, length: 'GET /index.html '.length, replacement: new Uint8Array(0) });
    expect(text(expectWellFormed(shrunk).l4!.payload)).toBe('HTTP/1.0\r\n\r\n');
  });

  it('edits an ICMP echo payload behind IPv4 options and drops the bytes after the packet', () => {
    const edited = mangle(IPV4_OPTIONS_ICMP_ECHO, { offset: 0, length: 4, replacement: bytesOf('pong!!') });
    expect(edited.length).toBe(24 + 8 + 6); // the 2 padding bytes are gone
    const { ip, l4 } = expectWellFormed(edited);
    expect(ip.kind === 'ipv4' && [...ip.options]).toEqual([0x94, 0x04, 0x00, 0x00]);
    expect(l4?.kind === 'icmp' && [l4.type, l4.identifier, l4.sequenceNumber, text(l4.payload)]).toEqual([8, 0x0102, 3, 'pong!!']);
  });

  it('edits an ICMPv6 payload behind extension headers', () => {
    const edited = mangle(IPV6_EXTENSIONS_ICMPV6_ECHO, { offset: 1, length: 1, replacement: bytesOf('BBBB') });
    const { ip, l4 } = expectWellFormed(edited);
    expect(ip.kind === 'ipv6' && ip.extensionHeaders.map((header) => header.type)).toEqual([0, 44, 60]);
    expect(text(l4!.payload)).toBe('aBBBBc');
  });

  it('replaces with the same length, and a whole payload with nothing', () => {
    const same = mangle(IPV6_ICMPV6_ECHO, { offset: 0, length: 3, replacement: bytesOf('xyz') });
    expect(text(expectWellFormed(same).l4!.payload)).toBe('xyz');
    const emptied = mangle(IPV6_ICMPV6_ECHO, { offset: 0, length: 3, replacement: new Uint8Array(0) });
    expect(expectWellFormed(emptied).l4!.payload.length).toBe(0);
  });

  it('refuses ranges outside the L4 payload', () => {
    const packet = fixturePacket('kernel-udp4-input-batch', 0); // 3 payload bytes
    for (const [offset, length] of [
      [0, 4],
      [3, 1],
      [4, 0],
      [-1, 1],
      [0, -1],
      [0.5, 1],
    ] as const) {
      expect(() => mangle(packet, { offset, length, replacement: new Uint8Array(0) })).toThrow(MangleRangeError);
    }
    expect(() => mangle(packet, { offset: 3, length: 0, replacement: bytesOf('!') })).not.toThrow(); // appending is in range
  });

  it('refuses results over 65535 bytes, and accepts exactly 65535', () => {
    const packet = fixturePacket('kernel-udp4-input-batch', 0); // 31 bytes, 3 of payload
    const fits = mangle(packet, { offset: 0, length: 3, replacement: new Uint8Array(65_535 - 28) });
    expect(expectWellFormed(fits).ip.bytes.length).toBe(65_535);
    const error = (() => {
      try {
        mangle(packet, { offset: 0, length: 3, replacement: new Uint8Array(65_535 - 27) });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(PacketTooLargeError);
    expect(error).toMatchObject({ code: 'ERR_PACKET_TOO_LARGE', length: 65_536, limit: 65_535 });
    // IPv6: the limit is on the payload length, so the packet may reach 65535 + 40 bytes.
    const udp6 = fixturePacket('kernel-udp6-mark-priority'); // payload length 10, 2 bytes of UDP payload
    expect(mangle(udp6, { offset: 0, length: 2, replacement: new Uint8Array(65_535 - 8) }).length).toBe(65_575);
    expect(() => mangle(udp6, { offset: 0, length: 2, replacement: new Uint8Array(65_535 - 7) })).toThrow(PacketTooLargeError);
  });

  it('refuses fragments and protocols without a known payload start', () => {
    const fragment = Buffer.from(IPV4_OPTIONS_ICMP_ECHO);
    fragment.writeUInt16BE(0x2000, 6); // MF
    expect(() => mangle(fragment, { offset: 0, length: 1, replacement: bytesOf('x') })).toThrow(MangleUnsupportedError);
    const gre = Buffer.from(IPV4_OPTIONS_ICMP_ECHO);
    gre[9] = 47;
    expect(() => mangle(gre, { offset: 0, length: 1, replacement: bytesOf('x') })).toThrow(
      expect.objectContaining({ code: 'ERR_MANGLE_UNSUPPORTED', message: expect.stringContaining('protocol 47') }),
    );
  });

  it('refuses a packet cut by the copy range, whose checksums cannot be recomputed', () => {
    expect(() => mangle(fixturePacket('kernel-copy-range-32'), { offset: 0, length: 1, replacement: bytesOf('x') })).toThrow(
      MalformedPacketError,
    );
  });
});

describe('mangleIp (offset relative to the network header)', () => {
  it('edits a header field in place of the same length and recomputes the header checksum', () => {
    const edited = mangleIp(IPV4_TCP_WITH_PAYLOAD, { offset: 8, length: 1, replacement: Uint8Array.of(17) }); // TTL 64 -> 17
    const { ip } = expectWellFormed(edited);
    expect(ip.kind === 'ipv4' && [ip.ttl, ip.checksum !== 0xe396]).toEqual([17, true]);
  });

  it('changes the length past the L4 header and fixes everything', () => {
    // Absolute offset 28 is the first UDP payload byte of a 20-byte IPv4 header + 8-byte UDP header.
    const edited = mangleIp(fixturePacket('kernel-udp4-input-batch', 1), { offset: 28, length: 3, replacement: bytesOf('deux') });
    expect(text(expectWellFormed(edited).l4!.payload)).toBe('deux');
  });

  it('refuses a length change inside the IP headers, and ranges outside the packet', () => {
    const packet = fixturePacket('kernel-udp4-input-batch', 0);
    expect(() => mangleIp(packet, { offset: 8, length: 1, replacement: Uint8Array.of(1, 2) })).toThrow(
      expect.objectContaining({ code: 'ERR_MANGLE_OUT_OF_RANGE', message: expect.stringContaining('offset 20') }),
    );
    expect(() => mangleIp(packet, { offset: 30, length: 2, replacement: new Uint8Array(0) })).toThrow(MangleRangeError);
  });

  it('reports an edit that breaks the L4 header as a malformed packet', () => {
    // Cutting the UDP header short leaves a packet that does not parse.
    expect(() => mangleIp(fixturePacket('kernel-udp4-input-batch', 0), { offset: 24, length: 7, replacement: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_PACKET_TRUNCATED', what: 'UDP header' }),
    );
  });
});

describe('recomputeChecksums (in place)', () => {
  it('repairs every checksum of a packet the caller edited', () => {
    for (const sample of [IPV4_TCP_WITH_PAYLOAD, IPV4_OPTIONS_ICMP_ECHO.subarray(0, 36), IPV6_ICMPV6_ECHO, fixturePacket('kernel-udp6-mark-priority')]) {
      const packet = Buffer.from(sample);
      packet[packet.length - 1]! ^= 0xff; // change the last payload byte
      if (packet[0]! >> 4 === 4) packet[8] = 1; // and the TTL of IPv4 packets
      expect(verifyChecksums(packet).transport).toBe(false);
      recomputeChecksums(packet);
      expect(verifyChecksums(packet)).toEqual({ ipHeader: packet[0]! >> 4 === 4 ? true : undefined, transport: true });
    }
  });

  it('fills in a UDP checksum that was 0 ("none")', () => {
    const packet = fixturePacket('kernel-udp4-input-batch', 0);
    packet.writeUInt16BE(0, 26);
    recomputeChecksums(packet);
    expect(packet.readUInt16BE(26)).toBe(0x3f5c);
  });

  it('leaves the L4 checksum of a fragment alone but fixes the IPv4 header checksum', () => {
    const packet = Buffer.from(IPV4_OPTIONS_ICMP_ECHO.subarray(0, 36));
    packet.writeUInt16BE(0x2000, 6); // MF
    packet.writeUInt16BE(0xbeef, 26); // ICMP checksum: kept, it covers the whole datagram
    recomputeChecksums(packet);
    expect(packet.readUInt16BE(26)).toBe(0xbeef);
    expect(verifyChecksums(packet)).toEqual({ ipHeader: true, transport: undefined });
  });
});

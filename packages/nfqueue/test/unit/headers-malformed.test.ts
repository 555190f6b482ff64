import { describe, expect, it } from 'vitest';
import {
  IcmpHeader,
  Ipv4Header,
  Ipv6Header,
  MalformedPacketError,
  MangleRangeError,
  MangleUnsupportedError,
  PacketTooLargeError,
  TcpHeader,
  UdpHeader,
  describePacket,
  mangle,
  parseIp,
  verifyChecksums,
} from '../../src/index.js';
import { IPV4_OPTIONS_ICMP_ECHO, IPV4_TCP_WITH_PAYLOAD, IPV6_EXTENSIONS_ICMPV6_ECHO, IPV6_ICMPV6_ECHO, fixturePacket, hex } from './header-samples.js';

/** Runs `parse` and returns the MalformedPacketError it throws (failing the test if it throws nothing or something else). */
function malformation(parse: () => unknown): MalformedPacketError {
  try {
    parse();
  } catch (error) {
    if (error instanceof MalformedPacketError) return error;
    throw error;
  }
  throw new Error('expected a MalformedPacketError, got a result');
}

const UDP4 = fixturePacket('kernel-udp4-input-batch', 0);
const withByte = (bytes: Uint8Array, offset: number, value: number): Buffer => {
  const copy = Buffer.from(bytes);
  copy[offset] = value;
  return copy;
};

describe('MalformedPacketError', () => {
  it('carries a code, the offset and what was being read', () => {
    const error = malformation(() => new Ipv4Header(UDP4.subarray(0, 19)));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('MalformedPacketError');
    expect({ code: error.code, offset: error.offset, what: error.what, detail: error.detail }).toEqual({
      code: 'ERR_PACKET_TRUNCATED',
      offset: 0,
      what: 'IPv4 header',
      detail: 'needs 20 bytes, 19 left',
    });
    expect(error.message).toBe('malformed packet: IPv4 header at offset 0: needs 20 bytes, 19 left');
  });
});

describe('malformed IPv4', () => {
  it.each([
    ['a version other than 4', () => new Ipv4Header(withByte(UDP4, 0, 0x65)), 'ERR_PACKET_BAD_VERSION', 0, 'IPv4 version'],
    ['IHL below 5', () => new Ipv4Header(withByte(UDP4, 0, 0x44)), 'ERR_PACKET_BAD_HEADER_LENGTH', 0, 'IPv4 IHL'],
    ['options past the end', () => new Ipv4Header(withByte(UDP4, 0, 0x4f).subarray(0, 31)), 'ERR_PACKET_TRUNCATED', 20, 'IPv4 options'],
    ['total length below the header', () => new Ipv4Header(withByte(UDP4, 3, 19)), 'ERR_PACKET_BAD_LENGTH', 2, 'IPv4 total length'],
    ['total length past the bytes', () => new Ipv4Header(UDP4.subarray(0, 30)), 'ERR_PACKET_TRUNCATED', 20, 'IPv4 payload'],
  ] as const)('rejects %s', (_name, parse, code, offset, what) => {
    expect(malformation(parse)).toMatchObject({ code, offset, what });
  });
});

describe('malformed IPv6', () => {
  it.each([
    ['a fixed header cut short', () => new Ipv6Header(IPV6_ICMPV6_ECHO.subarray(0, 39)), 'ERR_PACKET_TRUNCATED', 0, 'IPv6 header'],
    ['a version other than 6', () => new Ipv6Header(withByte(IPV6_ICMPV6_ECHO, 0, 0x42)), 'ERR_PACKET_BAD_VERSION', 0, 'IPv6 version'],
    ['a payload length past the bytes', () => new Ipv6Header(IPV6_ICMPV6_ECHO.subarray(0, 50)), 'ERR_PACKET_TRUNCATED', 40, 'IPv6 payload'],
    // Destination options (at 56) with length field 4: (4 + 1) * 8 = 40 bytes, but only 19 are left.
    [
      'an extension header longer than the payload',
      () => new Ipv6Header(withByte(IPV6_EXTENSIONS_ICMPV6_ECHO, 57, 4)),
      'ERR_PACKET_TRUNCATED',
      56,
      'IPv6 destination options header',
    ],
    [
      'an extension header past a payload length that stops early',
      () => {
        const packet = Buffer.from(IPV6_EXTENSIONS_ICMPV6_ECHO);
        packet.writeUInt16BE(12, 4); // the payload ends inside the fragment header
        return new Ipv6Header(packet);
      },
      'ERR_PACKET_TRUNCATED',
      48,
      'IPv6 fragment header',
    ],
  ] as const)('rejects %s', (_name, parse, code, offset, what) => {
    expect(malformation(parse)).toMatchObject({ code, offset, what });
  });

  it('measures an AH length in 4-byte units plus 2 when it checks the bounds', () => {
    // AH with length field 4 needs 24 bytes; only 16 are there.
    const packet = hex(`60000000 0010 33 40 ${'00'.repeat(32)} 11 04 0000 00000100 00000001 00000000`);
    expect(malformation(() => new Ipv6Header(packet))).toMatchObject({ code: 'ERR_PACKET_TRUNCATED', offset: 40, what: 'IPv6 authentication header' });
  });
});

describe('malformed L4 headers (offsets from the start of the IP packet)', () => {
  it.each([
    ['a TCP header cut short', () => new TcpHeader(new Uint8Array(19)), 'ERR_PACKET_TRUNCATED', 0, 'TCP header'],
    ['a TCP data offset below 5', () => parseIp(withByte(IPV4_TCP_WITH_PAYLOAD, 32, 0x40)), 'ERR_PACKET_BAD_HEADER_LENGTH', 32, 'TCP data offset'],
    ['TCP options past the segment', () => parseIp(withByte(IPV4_TCP_WITH_PAYLOAD, 32, 0xf0)), 'ERR_PACKET_TRUNCATED', 40, 'TCP options'],
    ['a UDP length below 8', () => parseIp(withByte(UDP4, 25, 7)), 'ERR_PACKET_BAD_LENGTH', 24, 'UDP length'],
    ['a UDP length past the IP payload', () => parseIp(withByte(UDP4, 25, 12)), 'ERR_PACKET_TRUNCATED', 28, 'UDP payload'],
    ['a UDP header cut short', () => new UdpHeader(new Uint8Array(7)), 'ERR_PACKET_TRUNCATED', 0, 'UDP header'],
    ['an ICMP header cut short', () => new IcmpHeader(new Uint8Array(7)), 'ERR_PACKET_TRUNCATED', 0, 'ICMP header'],
    ['an ICMPv6 header cut short', () => parseIp(hex(`60000000 0004 3a ff ${'00'.repeat(32)} 80000000`)), 'ERR_PACKET_TRUNCATED', 40, 'ICMPv6 header'],
  ] as const)('rejects %s', (_name, parse, code, offset, what) => {
    expect(malformation(parse)).toMatchObject({ code, offset, what });
  });

  it('rejects empty bytes and unknown IP versions in parseIp', () => {
    expect(malformation(() => parseIp(new Uint8Array(0)))).toMatchObject({ code: 'ERR_PACKET_TRUNCATED', offset: 0 });
    expect(malformation(() => parseIp(Uint8Array.of(0x50)))).toMatchObject({ code: 'ERR_PACKET_BAD_VERSION', what: 'IP version' });
  });
});

const SAMPLES = [
  UDP4,
  fixturePacket('kernel-udp4-output'),
  fixturePacket('kernel-udp6-mark-priority'),
  IPV4_OPTIONS_ICMP_ECHO,
  IPV6_ICMPV6_ECHO,
  IPV6_EXTENSIONS_ICMPV6_ECHO,
  IPV4_TCP_WITH_PAYLOAD,
  hex(`60000000 0034 2b 40 ${'00'.repeat(15)}01 ${'00'.repeat(15)}01 33000000 00000000 11040000 00000100 00000001 ${'00'.repeat(12)} 13881389 00140000 ${'41'.repeat(12)}`),
];

/** Runs `action`; anything thrown must be one of the typed errors of the packet helpers. */
function onlyTypedErrors(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    const typed = [MalformedPacketError, MangleRangeError, MangleUnsupportedError, PacketTooLargeError].some((type) => error instanceof type);
    if (!typed) throw new Error(`unexpected ${String(error)}`, { cause: error });
  }
}

/** Reads every getter of `view` (its class and base classes), so that an out-of-bounds read would throw. */
function readAllGetters(view: object): unknown[] {
  const values: unknown[] = [];
  for (let prototype = Object.getPrototypeOf(view); prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype)) {
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(prototype))) {
      if (descriptor.get !== undefined) values.push(Reflect.get(view, name));
    }
  }
  return values;
}

/** Parses (cut packets allowed) and reads everything the views offer. */
function readEverything(bytes: Uint8Array): void {
  const { ip, l4 } = parseIp(bytes, { allowTruncated: true });
  expect(readAllGetters(ip).length).toBeGreaterThan(15);
  if (l4 !== undefined) expect(readAllGetters(l4).length).toBeGreaterThanOrEqual(5);
}

describe('robustness: no bad input gets anything but a typed error', () => {
  it('every prefix of every sample either parses or throws MalformedPacketError', () => {
    let rejected = 0;
    for (const sample of SAMPLES) {
      for (let length = 0; length <= sample.length; length++) {
        const prefix = sample.subarray(0, length);
        for (const allowTruncated of [false, true]) {
          try {
            parseIp(prefix, { allowTruncated });
          } catch (error) {
            expect(error).toBeInstanceOf(MalformedPacketError);
            rejected++;
          }
        }
        onlyTypedErrors(() => readEverything(prefix));
        expect(typeof describePacket(prefix)).toBe('string');
      }
      // Strictly parsed, a prefix shorter than the packet's own length is always refused.
      const declared = parseIp(sample).ip.bytes.length;
      for (let length = 0; length < declared; length++) expect(() => parseIp(sample.subarray(0, length))).toThrow(MalformedPacketError);
    }
    expect(rejected).toBeGreaterThan(SAMPLES.length * 20);
  });

  it('random byte changes (seeded) only ever give typed errors, from parsing, checking and mangling', () => {
    let state = 0x9e3779b9;
    const next = (limit: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % limit;
    };
    const outcomes = { parsed: 0, rejected: 0, mangled: 0 };
    for (let round = 0; round < 3_000; round++) {
      const packet = Buffer.from(SAMPLES[next(SAMPLES.length)]!);
      for (let changes = 1 + next(4); changes > 0; changes--) packet[next(Math.min(packet.length, 80))] = next(256);
      const bytes = packet.subarray(0, packet.length - next(3));
      try {
        parseIp(bytes);
        outcomes.parsed++;
      } catch (error) {
        expect(error).toBeInstanceOf(MalformedPacketError);
        outcomes.rejected++;
      }
      onlyTypedErrors(() => readEverything(bytes));
      onlyTypedErrors(() => verifyChecksums(bytes));
      expect(typeof describePacket(bytes)).toBe('string');
      onlyTypedErrors(() => {
        mangle(bytes, { offset: next(8), length: next(4), replacement: new Uint8Array(next(16)) });
        outcomes.mangled++;
      });
    }
    // The changes must exercise both sides, or the test proves nothing.
    expect(outcomes.parsed).toBeGreaterThan(300);
    expect(outcomes.rejected).toBeGreaterThan(300);
    expect(outcomes.mangled).toBeGreaterThan(100);
  });
});

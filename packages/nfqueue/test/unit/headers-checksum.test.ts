import { describe, expect, it } from 'vitest';
import {
  Ipv4Header,
  Ipv6Header,
  computeIcmpChecksum,
  computeIcmpv6Checksum,
  computeIpv4HeaderChecksum,
  computeTcpChecksum,
  computeUdpChecksum,
  internetChecksum,
  onesComplementSum,
  parseIp,
  recomputeChecksums,
  verifyChecksums,
  verifyIcmpChecksum,
  verifyIcmpv6Checksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../src/index.js';
import { IPV4_OPTIONS_ICMP_ECHO, IPV4_TCP_WITH_PAYLOAD, IPV6_EXTENSIONS_ICMPV6_ECHO, IPV6_ICMPV6_ECHO, fixturePacket } from './header-samples.js';

/** The textbook algorithm, 16 bits at a time, as a reference for the word-at-a-time one. */
function referenceChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let index = 0; index < bytes.length; index += 2) sum += (bytes[index]! << 8) | (bytes[index + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A deterministic byte source (xorshift32), so the comparison runs over the same bytes each time. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

const INPUT_UDP4 = [0, 1, 2].map((index) => fixturePacket('kernel-udp4-input-batch', index));
const OUTPUT_UDP4 = fixturePacket('kernel-udp4-output'); // skbInfo 1: checksum not ready (partial)
const UDP6 = fixturePacket('kernel-udp6-mark-priority');

describe('internetChecksum (RFC 1071)', () => {
  it('gives the sum and checksum of the RFC 1071 example', () => {
    const example = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(example)).toBe(0xddf2);
    expect(internetChecksum(example)).toBe(0x220d);
  });

  it('pads an odd last byte with zero', () => {
    expect(internetChecksum(Uint8Array.from([0x01]))).toBe(0xfeff);
    expect(onesComplementSum(Uint8Array.from([0xab, 0xcd, 0xef]))).toBe(0x9ace); // 0xabcd + 0xef00, carry folded
    expect(internetChecksum(new Uint8Array(0))).toBe(0xffff);
  });

  it('adds an initial sum', () => {
    expect(internetChecksum(Uint8Array.from([0x12, 0x34]), 0x1111)).toBe(~0x2345 & 0xffff);
  });

  it('agrees with the 16-bit reference at every length and alignment', () => {
    const bytes = pseudoRandomBytes(2_100, 0x1234567);
    for (let length = 0; length <= 70; length++) {
      for (const start of [0, 1, 2, 3]) {
        const slice = bytes.subarray(start, start + length);
        expect(internetChecksum(slice)).toBe(referenceChecksum(slice));
      }
    }
    const large = pseudoRandomBytes(65_535, 99).fill(0xff, 0, 60_000); // many carries
    expect(internetChecksum(large)).toBe(referenceChecksum(large));
  });
});

describe('IPv4 header checksum', () => {
  it('verifies and recomputes the header checksum of every captured IPv4 packet', () => {
    const packets = [...INPUT_UDP4, OUTPUT_UDP4, fixturePacket('kernel-copy-range-32'), fixturePacket('kernel-tcp-gso')];
    for (const packet of packets) {
      const header = new Ipv4Header(packet, { allowTruncated: true });
      expect(verifyIpv4HeaderChecksum(header)).toBe(true);
      expect(computeIpv4HeaderChecksum(header)).toBe(header.checksum);
    }
  });

  it('covers the options and fails when a header byte changes', () => {
    const header = new Ipv4Header(IPV4_OPTIONS_ICMP_ECHO);
    expect(computeIpv4HeaderChecksum(header)).toBe(0x25ad);
    const changed = Buffer.from(IPV4_OPTIONS_ICMP_ECHO);
    changed[22] = 0x01; // inside the option
    expect(verifyIpv4HeaderChecksum(new Ipv4Header(changed))).toBe(false);
  });
});

describe('UDP checksum with the pseudo-header', () => {
  it('verifies real UDP packets over IPv4 and IPv6 whose checksum was complete', () => {
    for (const packet of [...INPUT_UDP4, UDP6]) {
      const { ip, l4 } = parseIp(packet);
      if (l4?.kind !== 'udp') throw new Error('unreachable');
      expect(verifyUdpChecksum(ip, l4.bytes)).toBe(true);
      expect(computeUdpChecksum(ip, l4.bytes)).toBe(l4.checksum);
      expect(verifyChecksums(packet)).toEqual({ ipHeader: ip.kind === 'ipv4' ? true : undefined, transport: true });
    }
  });

  it('fails a packet queued on OUTPUT with a partial checksum, and verifies it once recomputed', () => {
    expect(verifyChecksums(OUTPUT_UDP4)).toEqual({ ipHeader: true, transport: false });
    const copy = Buffer.from(OUTPUT_UDP4);
    recomputeChecksums(copy);
    expect(verifyChecksums(copy)).toEqual({ ipHeader: true, transport: true });
    expect(copy.subarray(0, 26).equals(OUTPUT_UDP4.subarray(0, 26))).toBe(true); // only the checksum changed
    expect(copy.subarray(28).equals(OUTPUT_UDP4.subarray(28))).toBe(true);
  });

  it('takes 0 as "no checksum" over IPv4 only', () => {
    const v4 = Buffer.from(INPUT_UDP4[0]!);
    v4.writeUInt16BE(0, 26);
    const parsed4 = parseIp(v4);
    expect(verifyUdpChecksum(parsed4.ip, parsed4.l4!.bytes)).toBe(true);
    const v6 = Buffer.from(UDP6);
    v6.writeUInt16BE(0, 46);
    const parsed6 = parseIp(v6);
    expect(verifyUdpChecksum(parsed6.ip, parsed6.l4!.bytes)).toBe(false);
  });

  it('sends a computed 0 as 0xffff', () => {
    // Put the checksum of the datagram (with a zero word in the payload) into that word: the sum becomes 0xffff.
    const packet = Buffer.from(INPUT_UDP4[2]!); // payload "three", 5 bytes
    packet.writeUInt16BE(0, 28);
    const before = parseIp(packet);
    const checksumWithZeroWord = computeUdpChecksum(before.ip, before.l4!.bytes);
    packet.writeUInt16BE(checksumWithZeroWord, 28);
    const after = parseIp(packet);
    expect(computeUdpChecksum(after.ip, after.l4!.bytes)).toBe(0xffff);
    packet.writeUInt16BE(0xffff, 26);
    expect(verifyUdpChecksum(after.ip, after.l4!.bytes)).toBe(true);
  });

  it('fails when one payload bit flips', () => {
    const packet = Buffer.from(UDP6);
    packet[packet.length - 1]! ^= 0x01;
    expect(verifyChecksums(packet).transport).toBe(false);
  });
});

describe('TCP, ICMP and ICMPv6 checksums', () => {
  it('computes and verifies a TCP checksum over IPv4', () => {
    const { ip, l4 } = parseIp(IPV4_TCP_WITH_PAYLOAD);
    expect(computeTcpChecksum(ip, l4!.bytes)).toBe(0xfd13);
    expect(verifyTcpChecksum(ip, l4!.bytes)).toBe(true);
    expect(verifyChecksums(IPV4_TCP_WITH_PAYLOAD)).toEqual({ ipHeader: true, transport: true });
  });

  it('computes a TCP checksum over IPv6 with the IPv6 pseudo-header', () => {
    // The TCP segment of the IPv4 sample moved under an IPv6 header: same segment, other pseudo-header.
    const segment = IPV4_TCP_WITH_PAYLOAD.subarray(20);
    const header = Buffer.from(IPV6_ICMPV6_ECHO.subarray(0, 40));
    header.writeUInt16BE(segment.length, 4);
    header[6] = 6;
    const packet = Buffer.concat([header, segment]);
    expect(verifyChecksums(packet).transport).toBe(false); // the IPv4 pseudo-header sum does not fit
    recomputeChecksums(packet);
    const { ip, l4 } = parseIp(packet);
    expect(verifyTcpChecksum(ip, l4!.bytes)).toBe(true);
    expect(ip).toBeInstanceOf(Ipv6Header);
  });

  it('computes and verifies an ICMP checksum (no pseudo-header)', () => {
    const { l4 } = parseIp(IPV4_OPTIONS_ICMP_ECHO);
    expect(computeIcmpChecksum(l4!.bytes)).toBe(0x182a);
    expect(verifyIcmpChecksum(l4!.bytes)).toBe(true);
    expect(verifyChecksums(IPV4_OPTIONS_ICMP_ECHO)).toEqual({ ipHeader: true, transport: true });
  });

  it('computes and verifies an ICMPv6 checksum, behind extension headers too', () => {
    for (const packet of [IPV6_ICMPV6_ECHO, IPV6_EXTENSIONS_ICMPV6_ECHO]) {
      const { ip, l4 } = parseIp(packet);
      if (ip.kind !== 'ipv6') throw new Error('unreachable');
      expect(computeIcmpv6Checksum(ip, l4!.bytes)).toBe(0x5f9f);
      expect(verifyIcmpv6Checksum(ip, l4!.bytes)).toBe(true);
    }
    expect(verifyChecksums(IPV6_ICMPV6_ECHO)).toEqual({ ipHeader: undefined, transport: true });
    expect(verifyChecksums(IPV6_EXTENSIONS_ICMPV6_ECHO)).toEqual({ ipHeader: undefined, transport: true }); // an atomic fragment is whole
    const firstOfTwo = Buffer.from(IPV6_EXTENSIONS_ICMPV6_ECHO);
    firstOfTwo[51] = 0x01; // M flag: the checksum covers bytes not here
    expect(verifyChecksums(firstOfTwo)).toEqual({ ipHeader: undefined, transport: undefined });
  });
});

/**
 * Packets for the header tests: real ones captured by the kernel (read from the repository's
 * `fixtures/kernel-*.json`) and hand-made ones, written byte by byte with their checksums worked
 * out independently of the code under test.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../../../../fixtures/', import.meta.url));

interface FixtureMessage {
  payload?: string;
  skbInfo?: number;
}

/** The IP packet (`payload`) of message `index` of fixture `name` (e.g. 'kernel-udp4-output'). */
export function fixturePacket(name: string, index = 0): Buffer {
  const fixture = JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as {
    decode: { expect: { messages: FixtureMessage[] } };
  };
  const payload = fixture.decode.expect.messages[index]?.payload;
  if (payload === undefined) throw new Error(`fixture ${name} has no payload in message ${index}`);
  return Buffer.from(payload, 'hex');
}

/** Hex with whitespace and `# comments` allowed, to write packets field by field. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

/**
 * IPv4 with a router-alert option (IHL 6) carrying an ICMP echo request, followed by 2 bytes of
 * link-layer padding that are not part of the packet.
 */
export const IPV4_OPTIONS_ICMP_ECHO = hex(`
  46          # version 4, IHL 6 (24 bytes)
  b8          # TOS: DSCP 46 (EF), ECN 0
  0024        # total length 36
  1234        # identification
  0000        # no flags, fragment offset 0
  01          # TTL 1
  01          # protocol 1 (ICMP)
  25ad        # header checksum
  c0000201    # source 192.0.2.1
  c6336407    # destination 198.51.100.7
  94040000    # option: router alert (RFC 2113), value 0
  08 00       # ICMP echo request, code 0
  182a        # ICMP checksum
  0102 0003   # identifier 0x0102, sequence 3
  70696e67    # "ping"
  0000        # padding after the packet
`);

/** IPv6 carrying an ICMPv6 echo request, no extension headers. */
export const IPV6_ICMPV6_ECHO = hex(`
  62e12345                          # version 6, traffic class 0x2e, flow label 0x12345
  000b                              # payload length 11
  3a                                # next header 58 (ICMPv6)
  ff                                # hop limit 255
  20010db8000000000000000000000001  # source 2001:db8::1
  20010db8000000000001000000000001  # destination 2001:db8::1:0:0:1
  80 00                             # echo request, code 0
  5f9f                              # ICMPv6 checksum
  0042 0001                         # identifier 0x42, sequence 1
  616263                            # "abc"
`);

/** The same ICMPv6 echo behind hop-by-hop options, an atomic fragment header and destination options. */
export const IPV6_EXTENSIONS_ICMPV6_ECHO = hex(`
  60000000                          # version 6, traffic class 0, flow label 0
  0023                              # payload length 35
  00                                # next header 0 (hop-by-hop)
  40                                # hop limit 64
  20010db8000000000000000000000001  # source 2001:db8::1
  20010db8000000000001000000000001  # destination 2001:db8::1:0:0:1
  2c 00 01040000 0000               # hop-by-hop: next 44, length 8, PadN
  3c 00 0000 deadbeef               # fragment: next 60, offset 0, M clear, id 0xdeadbeef
  3a 00 01040000 0000               # destination options: next 58, length 8, PadN
  80 00 5f9f 0042 0001 616263       # ICMPv6 echo request as above
`);

/** IPv4 TCP segment (PSH ACK) with an MSS option and an 18-byte HTTP request as payload. */
export const IPV4_TCP_WITH_PAYLOAD = hex(`
  45 00 003e 4321 4000 40 06 e396   # IPv4: length 62, id 0x4321, DF, TTL 64, TCP, checksum
  0a000001 0a000002                 # 10.0.0.1 -> 10.0.0.2
  9c40 0050                         # ports 40000 -> 80
  000003e8                          # sequence 1000
  000007d0                          # acknowledgment 2000
  60 18                             # data offset 6 (24 bytes), flags PSH ACK
  ffff fd13 0000                    # window 65535, checksum, urgent pointer 0
  020405b4                          # option: MSS 1460
  474554202f20485454502f312e300d0a0d0a  # "GET / HTTP/1.0\\r\\n\\r\\n"
`);

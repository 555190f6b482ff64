import { describe, expect, it } from 'vitest';
import {
  NFQA_PAYLOAD,
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
  NFQA_UID,
  NetlinkDecodeError,
  PacketView,
  parsePacket,
} from '../src/index.js';
import { be32, bytes, le32 } from './bytes.js';

/** nlmsghdr + nfgenmsg of an NFQNL_MSG_PACKET message of `length` bytes from queue 5, IPv4. */
function packetHeader(length: number): number[] {
  return [
    ...le32(length), // nlmsg_len
    0x00, 0x03, // nlmsg_type (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, little-endian
    0x00, 0x00, // nlmsg_flags
    ...le32(0), // nlmsg_seq
    ...le32(0), // nlmsg_pid
    0x02, // nfgenmsg.family NFPROTO_IPV4
    0x00, // nfgenmsg.version NFNETLINK_V0
    0x00, 0x05, // nfgenmsg.res_id = queue 5, big-endian
  ];
}

/** NFQA_PACKET_HDR: id 7, hw_protocol 0x0800, hook 3 (LOCAL_OUT). */
const packetHdr = [
  0x0b, 0x00, 0x01, 0x00, // nla_len 11, nla_type NFQA_PACKET_HDR
  ...be32(7), // packet_id
  0x08, 0x00, // hw_protocol ETH_P_IP
  0x03, // hook NF_INET_LOCAL_OUT
  0x00, // padding to 4
];

/** A packet with (nearly) every attribute the kernel can send, 164 bytes. */
const fullPacket = bytes(
  packetHeader(164),
  packetHdr,
  [0x08, 0x00, 0x03, 0x00, ...be32(42)], // NFQA_MARK 42
  [
    0x14, 0x00, 0x04, 0x00, // nla_len 20, NFQA_TIMESTAMP
    ...be32(0), ...be32(1_700_000_000), // sec, be64
    ...be32(0), ...be32(123_456), // usec, be64
  ],
  [0x08, 0x00, 0x05, 0x00, ...be32(1)], // NFQA_IFINDEX_INDEV 1
  [
    0x10, 0x00, 0x09, 0x00, // nla_len 16, NFQA_HWADDR
    0x00, 0x06, // hw_addrlen 6, big-endian
    0x00, 0x00, // _pad
    0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x00, // hw_addr[8]
  ],
  [0x08, 0x00, 0x10, 0x00, ...be32(1000)], // NFQA_UID 1000
  [
    0x0d, 0x00, 0x12, 0x00, // nla_len 13, NFQA_SECCTX
    ...'system_u'.split('').map((c) => c.charCodeAt(0)), 0x00, // "system_u\0"
    0x00, 0x00, 0x00, // padding
  ],
  [
    0x14, 0x00, 0x13, 0x80, // nla_len 20, NFQA_VLAN | NLA_F_NESTED
    0x06, 0x00, 0x01, 0x00, 0x81, 0x00, 0x00, 0x00, // NFQA_VLAN_PROTO 0x8100 + padding
    0x06, 0x00, 0x02, 0x00, 0x00, 0x64, 0x00, 0x00, // NFQA_VLAN_TCI 100 + padding
  ],
  [0x08, 0x00, 0x0d, 0x00, ...be32(1500)], // NFQA_CAP_LEN 1500
  [0x08, 0x00, 0x0e, 0x00, ...be32(3)], // NFQA_SKB_INFO CSUMNOTREADY | GSO
  [0x08, 0x00, 0x63, 0x00, 0xde, 0xad, 0xbe, 0xef], // unknown attribute type 99: listed as unknown
  [
    0x09, 0x00, 0x0a, 0x00, // nla_len 9, NFQA_PAYLOAD
    0x45, 0x00, 0x00, 0x05, 0xff, // 5 payload bytes
    0x00, 0x00, 0x00, // padding
  ],
);

/** The smallest valid packet: header + NFQA_PACKET_HDR only. */
const minimalPacket = bytes(packetHeader(32), packetHdr);

function decodeError(run: () => unknown): NetlinkDecodeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(NetlinkDecodeError);
    return error as NetlinkDecodeError;
  }
  throw new Error('expected a NetlinkDecodeError');
}

describe('parsePacket', () => {
  it('reads every attribute of a full packet', () => {
    expect(fullPacket.length).toBe(164);
    const packet = parsePacket(fullPacket);
    expect(packet).toBeInstanceOf(PacketView);
    expect(packet.id).toBe(7);
    expect(packet.hwProtocol).toBe(0x0800);
    expect(packet.hook).toBe(3);
    expect(packet.family).toBe(2);
    expect(packet.queueNum).toBe(5);
    expect(packet.mark).toBe(42);
    expect(packet.timestamp).toEqual({ sec: 1_700_000_000, usec: 123_456 });
    expect(packet.indev).toBe(1);
    expect([...packet.hwAddr!]).toEqual([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    expect(packet.uid).toBe(1000);
    expect(packet.secctx).toBe('system_u');
    expect(packet.vlan).toEqual({ proto: 0x8100, tci: 100 });
    expect(packet.capLen).toBe(1500);
    expect(packet.skbInfo).toBe(NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO);
    expect([...packet.payload!]).toEqual([0x45, 0x00, 0x00, 0x05, 0xff]);
    expect(packet.has(NFQA_UID)).toBe(true);
    expect(packet.has(99)).toBe(false);
    expect(packet.unknownAttributes.map((a) => [a.type, [...a.value]])).toEqual([[99, [0xde, 0xad, 0xbe, 0xef]]]);
  });

  it('answers undefined, not zero, for absent attributes', () => {
    const packet = parsePacket(minimalPacket);
    expect(packet.id).toBe(7);
    for (const getter of [
      'mark', 'timestamp', 'indev', 'outdev', 'physindev', 'physoutdev', 'hwAddr', 'payload', 'ct',
      'ctInfo', 'capLen', 'skbInfo', 'exp', 'uid', 'gid', 'secctx', 'vlan', 'l2Header', 'priority',
    ] as const) {
      expect(packet[getter], getter).toBeUndefined();
    }
    expect(packet.attribute(NFQA_PAYLOAD)).toBeUndefined();
    expect(packet.secctxBytes).toBeUndefined();
  });

  it('gives the payload as a view into the received bytes, not a copy', () => {
    const packet = parsePacket(fullPacket);
    const payload = packet.payload!;
    expect(payload.buffer).toBe(fullPacket.buffer);
    expect(payload.byteOffset).toBe(fullPacket.byteOffset + 156); // attribute at 152, value after its 4-byte header
  });

  it('reads a packet that sits at an offset inside a larger batch', () => {
    const batch = new Uint8Array(8 + fullPacket.length);
    batch.set(fullPacket, 8);
    const packet = parsePacket(batch.subarray(8));
    expect(packet.id).toBe(7);
    expect(packet.mark).toBe(42);
    expect(packet.secctx).toBe('system_u');
  });

  it('rejects a packet without NFQA_PACKET_HDR', () => {
    const noHeader = bytes(packetHeader(28), [0x08, 0x00, 0x03, 0x00, ...be32(42)]);
    const error = decodeError(() => parsePacket(noHeader));
    expect(error.code).toBe('MISSING_ATTRIBUTE');
    expect(error.offset).toBe(20);
  });

  it('rejects a fixed-size attribute of the wrong size, naming its offset', () => {
    const shortMark = bytes(packetHeader(38), packetHdr, [0x06, 0x00, 0x03, 0x00, 0x00, 0x2a, 0x00, 0x00]);
    shortMark[0] = 40; // nlmsg_len: 20 + 12 + 8
    const error = decodeError(() => parsePacket(shortMark.subarray(0, 40)));
    expect(error.code).toBe('BAD_ATTRIBUTE_LENGTH');
    expect(error.offset).toBe(32);
  });

  it('rejects an NFQA_PACKET_HDR shorter than 7 bytes', () => {
    const shortHeader = bytes(packetHeader(28), [0x08, 0x00, 0x01, 0x00, ...be32(7)]);
    expect(decodeError(() => parsePacket(shortHeader)).code).toBe('BAD_ATTRIBUTE_LENGTH');
  });

  it('rejects an attribute running past the message as ATTRIBUTE_OVERRUN', () => {
    const overrun = bytes(packetHeader(40), packetHdr, [0x40, 0x00, 0x0a, 0x00, 1, 2, 3, 4]);
    const error = decodeError(() => parsePacket(overrun));
    expect(error.code).toBe('ATTRIBUTE_OVERRUN');
    expect(error.offset).toBe(32);
  });

  it('rejects an attribute length below 4 as BAD_ATTRIBUTE_HEADER at the attribute', () => {
    const zero = bytes(packetHeader(36), packetHdr, [0x00, 0x00, 0x0a, 0x00]);
    const error = decodeError(() => parsePacket(zero));
    expect(error.code).toBe('BAD_ATTRIBUTE_HEADER');
    expect(error.offset).toBe(32);
  });

  it('rejects stray bytes too few for an attribute header', () => {
    const stray = bytes(packetHeader(34), packetHdr, [0x01, 0x02]);
    expect(decodeError(() => parsePacket(stray)).code).toBe('TRUNCATED_ATTRIBUTE');
  });

  it('reads a hw_addrlen above 8 as 8', () => {
    const longAddress = bytes(packetHeader(48), packetHdr, [
      0x10, 0x00, 0x09, 0x00, // nla_len 16, NFQA_HWADDR
      0x00, 0x09, 0x00, 0x00, // hw_addrlen 9, pad
      1, 2, 3, 4, 5, 6, 7, 8, // hw_addr[8]
    ]);
    expect([...parsePacket(longAddress).hwAddr!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('rejects an NFQA_HWADDR that is not exactly 12 bytes', () => {
    const shortAddress = bytes(packetHeader(44), packetHdr, [
      0x0c, 0x00, 0x09, 0x00, 0x00, 0x06, 0x00, 0x00, 1, 2, 3, 4, // 8 value bytes
    ]);
    expect(decodeError(() => parsePacket(shortAddress))).toMatchObject({ code: 'BAD_ATTRIBUTE_LENGTH', offset: 32 });
  });

  it('lists unknown attributes (type 0, NFQA_VERDICT_HDR, above NFQA_MAX) in order, without failing', () => {
    const withUnknown = bytes(
      packetHeader(60),
      packetHdr,
      [0x06, 0x00, 0x00, 0x00, 0xab, 0xcd, 0x00, 0x00], // type 0, 2 bytes + padding
      [0x0c, 0x00, 0x02, 0x00, ...be32(1), ...be32(7)], // NFQA_VERDICT_HDR: not part of a packet
      [0x08, 0x00, 0x16, 0x40, ...be32(5)], // type 22 | NLA_F_NET_BYTEORDER
    );
    const packet = parsePacket(withUnknown);
    expect(packet.unknownAttributes.map((a) => [a.type, [...a.value]])).toEqual([
      [0, [0xab, 0xcd]],
      [2, [0, 0, 0, 1, 0, 0, 0, 7]],
      [22, [0, 0, 0, 5]],
    ]);
    expect(packet.has(2)).toBe(false);
    expect(parsePacket(minimalPacket).unknownAttributes).toEqual([]);
  });

  it('keeps the last of two attributes of the same type', () => {
    const twice = bytes(
      packetHeader(48),
      packetHdr,
      [0x08, 0x00, 0x03, 0x00, ...be32(1)], // NFQA_MARK 1
      [0x08, 0x00, 0x03, 0x00, ...be32(2)], // NFQA_MARK 2
    );
    expect(parsePacket(twice).mark).toBe(2);
  });

  it('removes exactly one trailing NUL from the security context', () => {
    const twoNuls = bytes(packetHeader(40), packetHdr, [0x08, 0x00, 0x12, 0x00, 0x61, 0x62, 0x00, 0x00]);
    const packet = parsePacket(twoNuls);
    expect([...packet.secctxBytes!]).toEqual([0x61, 0x62, 0x00]);
    expect(packet.secctx).toBe('ab\0');
  });

  it('rejects a VLAN attribute overrunning its nest at the inner attribute', () => {
    const overrun = bytes(packetHeader(44), packetHdr, [
      0x0c, 0x00, 0x13, 0x80, // NFQA_VLAN | NLA_F_NESTED, 8 value bytes
      0x0c, 0x00, 0x01, 0x00, 0x81, 0x00, 0x00, 0x00, // NFQA_VLAN_PROTO claiming 12 bytes
    ]);
    expect(decodeError(() => parsePacket(overrun))).toMatchObject({ code: 'ATTRIBUTE_OVERRUN', offset: 36 });
  });

  it('reads a VLAN nest with only a TCI, leaving proto absent', () => {
    const tciOnly = bytes(packetHeader(44), packetHdr, [
      0x0c, 0x00, 0x13, 0x80, // NFQA_VLAN | NLA_F_NESTED
      0x06, 0x00, 0x02, 0x00, 0x00, 0x64, 0x00, 0x00, // NFQA_VLAN_TCI 100
    ]);
    const vlan = parsePacket(tciOnly).vlan!;
    expect(vlan).toEqual({ tci: 100 });
    expect('proto' in vlan).toBe(false);
  });

  it('rejects a malformed nested VLAN attribute', () => {
    const badVlan = bytes(packetHeader(44), packetHdr, [
      0x0c, 0x00, 0x13, 0x80, // NFQA_VLAN, nested, 8 value bytes
      0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x81, 0x00, // NFQA_VLAN_PROTO with 4 bytes instead of 2
    ]);
    expect(decodeError(() => parsePacket(badVlan))).toMatchObject({ code: 'BAD_ATTRIBUTE_LENGTH', offset: 36 });
  });

  it('rejects a message that is not a packet, or is cut short', () => {
    const verdictType = Uint8Array.from(minimalPacket);
    verdictType[4] = 0x01; // nlmsg_type 0x0301, NFQNL_MSG_VERDICT
    expect(decodeError(() => parsePacket(verdictType))).toMatchObject({ code: 'UNEXPECTED_MESSAGE_TYPE', offset: 4 });
    expect(decodeError(() => parsePacket(minimalPacket.subarray(0, 10)))).toMatchObject({
      code: 'TRUNCATED_HEADER',
      offset: 0,
    });
    expect(decodeError(() => parsePacket(minimalPacket.subarray(0, 24)))).toMatchObject({
      code: 'MESSAGE_OVERRUN',
      offset: 0,
    });
    const tiny = Uint8Array.from(minimalPacket);
    tiny[0] = 18; // nlmsg_len 18: no room for nfgenmsg
    expect(decodeError(() => parsePacket(tiny))).toMatchObject({ code: 'TRUNCATED_NFGENMSG', offset: 16 });
    tiny[0] = 15; // nlmsg_len below the header itself
    expect(decodeError(() => parsePacket(tiny))).toMatchObject({ code: 'BAD_MESSAGE_LENGTH', offset: 0 });
  });
});

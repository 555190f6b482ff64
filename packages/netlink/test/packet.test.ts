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
  [0x08, 0x00, 0x63, 0x00, 0xde, 0xad, 0xbe, 0xef], // unknown attribute type 99: skipped
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
    expect(packet.queue).toBe(5);
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

  it('rejects an attribute length below 4', () => {
    const zero = bytes(packetHeader(36), packetHdr, [0x00, 0x00, 0x0a, 0x00]);
    expect(decodeError(() => parsePacket(zero)).code).toBe('BAD_ATTRIBUTE_LENGTH');
  });

  it('rejects stray bytes too few for an attribute header', () => {
    const stray = bytes(packetHeader(34), packetHdr, [0x01, 0x02]);
    expect(decodeError(() => parsePacket(stray)).code).toBe('TRUNCATED_ATTRIBUTE');
  });

  it('rejects a hardware address longer than 8 bytes', () => {
    const longAddress = bytes(packetHeader(48), packetHdr, [
      0x10, 0x00, 0x09, 0x00, 0x00, 0x09, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(decodeError(() => parsePacket(longAddress)).code).toBe('BAD_ATTRIBUTE_VALUE');
  });

  it('rejects a malformed nested VLAN attribute', () => {
    const badVlan = bytes(packetHeader(44), packetHdr, [
      0x0c, 0x00, 0x13, 0x80, // NFQA_VLAN, nested, 8 value bytes
      0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x81, 0x00, // NFQA_VLAN_PROTO with 4 bytes instead of 2
    ]);
    expect(decodeError(() => parsePacket(badVlan)).code).toBe('BAD_ATTRIBUTE_LENGTH');
  });

  it('rejects a message that is not a packet, or is cut short', () => {
    const verdictType = Uint8Array.from(minimalPacket);
    verdictType[4] = 0x01; // nlmsg_type 0x0301, NFQNL_MSG_VERDICT
    expect(decodeError(() => parsePacket(verdictType)).code).toBe('UNEXPECTED_MESSAGE_TYPE');
    expect(decodeError(() => parsePacket(minimalPacket.subarray(0, 10))).code).toBe('TRUNCATED_HEADER');
    expect(decodeError(() => parsePacket(minimalPacket.subarray(0, 24))).code).toBe('MESSAGE_OVERRUN');
    const tiny = Uint8Array.from(minimalPacket);
    tiny[0] = 16; // nlmsg_len 16: no room for nfgenmsg
    expect(decodeError(() => parsePacket(tiny)).code).toBe('BAD_MESSAGE_LENGTH');
  });
});

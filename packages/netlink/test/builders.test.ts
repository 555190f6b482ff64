import { describe, expect, it } from 'vitest';
import {
  NFQA_CFG_F_FAIL_OPEN,
  NFQA_CFG_F_GSO,
  NFQNL_CFG_CMD_BIND,
  NFQNL_COPY_PACKET,
  NF_ACCEPT,
  NF_DROP,
  NLM_F_ACK,
  NLM_F_REQUEST,
  VerdictWriter,
  buildConfig,
  buildPacketMessage,
  buildVerdict,
  buildVerdictBatch,
  iterateMessages,
  parsePacket,
  queueVerdict,
} from '../src/index.js';
import { be32, bytes, hex, le32 } from './bytes.js';

/** nlmsghdr + nfgenmsg of a request of `length` bytes, type (3 << 8) | `message`, for `queue`. */
function requestHeader(length: number, message: number, queue: number, flags = NLM_F_REQUEST, seq = 0): number[] {
  return [
    ...le32(length), // nlmsg_len
    message, 0x03, // nlmsg_type (NFNL_SUBSYS_QUEUE << 8) | message, little-endian
    flags, 0x00, // nlmsg_flags
    ...le32(seq), // nlmsg_seq
    ...le32(0), // nlmsg_pid
    0x00, // nfgenmsg.family AF_UNSPEC
    0x00, // nfgenmsg.version
    queue >> 8, queue & 0xff, // nfgenmsg.res_id, big-endian
  ];
}

describe('buildVerdict', () => {
  it('encodes a plain accept', () => {
    const expected = bytes(
      requestHeader(32, 1, 0x0102, NLM_F_REQUEST, 77),
      [0x0c, 0x00, 0x02, 0x00, ...be32(NF_ACCEPT), ...be32(0xdeadbeef)], // NFQA_VERDICT_HDR
    );
    expect(hex(buildVerdict({ queue: 0x0102, id: 0xdeadbeef, verdict: NF_ACCEPT, seq: 77 }))).toBe(hex(expected));
  });

  it('encodes mark, payload (padded) and connmark in that order', () => {
    const expected = bytes(
      requestHeader(64, 1, 3), // 20 + 12 + 8 + 12 + 12
      [0x0c, 0x00, 0x02, 0x00, ...be32(NF_ACCEPT), ...be32(5)], // NFQA_VERDICT_HDR accept id 5
      [0x08, 0x00, 0x03, 0x00, ...be32(42)], // NFQA_MARK 42
      [0x09, 0x00, 0x0a, 0x00, 1, 2, 3, 4, 5, 0, 0, 0], // NFQA_PAYLOAD 5 bytes + 3 padding
      [
        0x0c, 0x00, 0x0b, 0x80, // nla_len 12, NFQA_CT | NLA_F_NESTED
        0x08, 0x00, 0x08, 0x00, ...be32(7), // CTA_MARK 7
      ],
    );
    const built = buildVerdict({
      queue: 3,
      id: 5,
      verdict: NF_ACCEPT,
      mark: 42,
      payload: Uint8Array.of(1, 2, 3, 4, 5),
      connmark: 7,
    });
    expect(hex(built)).toBe(hex(expected));
  });

  it('encodes a queue-to-N verdict with bypass', () => {
    const built = buildVerdict({ queue: 0, id: 1, verdict: queueVerdict(9, true) });
    expect([...built.subarray(24, 28)]).toEqual(be32(0x0009_8003));
  });

  it('refuses out-of-range numbers', () => {
    expect(() => buildVerdict({ queue: 65536, id: 1, verdict: NF_ACCEPT })).toThrow(RangeError);
    expect(() => buildVerdict({ queue: 0, id: -1, verdict: NF_ACCEPT })).toThrow(RangeError);
    expect(() => buildVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT, mark: 2 ** 32 })).toThrow(RangeError);
    expect(() => buildVerdict({ queue: 0, id: 1.5, verdict: NF_ACCEPT })).toThrow(RangeError);
  });

  it('refuses connection labels that are not 16 bytes, and a label mask without labels', () => {
    expect(() => buildVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT, connlabels: new Uint8Array(8) })).toThrow(/connlabels must be 16 bytes \(128 label bits\), got 8 bytes/);
    expect(() => buildVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT, connlabels: new Uint8Array(16), connlabelsMask: new Uint8Array(17) })).toThrow(
      /connlabelsMask must be 16 bytes/,
    );
    expect(() => buildVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT, connlabelsMask: new Uint8Array(16) })).toThrow(/connlabelsMask goes with connlabels/);
    const writer = new VerdictWriter();
    expect(() => writer.appendVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT, connlabels: new Uint8Array(1) })).toThrow(RangeError);
    expect(writer.byteLength).toBe(0); // nothing half-written
  });
});

describe('buildVerdictBatch', () => {
  it('encodes NFQNL_MSG_VERDICT_BATCH with the highest id and a mark', () => {
    const expected = bytes(
      requestHeader(40, 3, 0),
      [0x0c, 0x00, 0x02, 0x00, ...be32(NF_DROP), ...be32(1000)], // NFQA_VERDICT_HDR drop up to id 1000
      [0x08, 0x00, 0x03, 0x00, ...be32(1)], // NFQA_MARK 1
    );
    expect(hex(buildVerdictBatch({ queue: 0, id: 1000, verdict: NF_DROP, mark: 1 }))).toBe(hex(expected));
  });
});

describe('buildConfig', () => {
  it('encodes a bind command with an ack request', () => {
    const expected = bytes(
      requestHeader(28, 2, 7, NLM_F_REQUEST | NLM_F_ACK, 1),
      [0x08, 0x00, 0x01, 0x00, NFQNL_CFG_CMD_BIND, 0x00, 0x00, 0x00], // NFQA_CFG_CMD bind, pad, pf 0
    );
    expect(hex(buildConfig({ queue: 7, seq: 1, ack: true, command: { command: NFQNL_CFG_CMD_BIND } }))).toBe(
      hex(expected),
    );
  });

  it('encodes params, max length, flags and mask', () => {
    const expected = bytes(
      requestHeader(56, 2, 0), // 20 + 12 + 8 + 8 + 8
      [0x09, 0x00, 0x02, 0x00, ...be32(0xffff), NFQNL_COPY_PACKET, 0, 0, 0], // NFQA_CFG_PARAMS (5 bytes + pad)
      [0x08, 0x00, 0x03, 0x00, ...be32(4096)], // NFQA_CFG_QUEUE_MAXLEN
      [0x08, 0x00, 0x05, 0x00, ...be32(NFQA_CFG_F_GSO)], // NFQA_CFG_FLAGS
      [0x08, 0x00, 0x04, 0x00, ...be32(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN)], // NFQA_CFG_MASK
    );
    const built = buildConfig({
      queue: 0,
      params: { copyMode: NFQNL_COPY_PACKET, copyRange: 0xffff },
      maxLen: 4096,
      flags: { flags: NFQA_CFG_F_GSO, mask: NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN },
    });
    expect(hex(built)).toBe(hex(expected));
  });
});

describe('VerdictWriter', () => {
  it('appends many verdicts into one buffer that iterates back message by message', () => {
    const writer = new VerdictWriter(64);
    for (let id = 1; id <= 100; id++) {
      writer.appendVerdict({ queue: 4, id, verdict: id % 2 ? NF_ACCEPT : NF_DROP, mark: id });
    }
    writer.appendVerdictBatch({ queue: 4, id: 200, verdict: NF_ACCEPT });
    expect(writer.messageCount).toBe(101);
    expect(writer.byteLength).toBe(100 * 40 + 32);
    const messages = [...iterateMessages(writer.bytes())];
    expect(messages).toHaveLength(101);
    expect(hex(messages[41]!.bytes)).toBe(hex(buildVerdict({ queue: 4, id: 42, verdict: NF_DROP, mark: 42 })));
    expect(hex(messages[100]!.bytes)).toBe(hex(buildVerdictBatch({ queue: 4, id: 200, verdict: NF_ACCEPT })));
  });

  it('reuses its buffer after clear', () => {
    const writer = new VerdictWriter();
    writer.appendVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT });
    const first = writer.bytes();
    writer.clear();
    expect(writer.byteLength).toBe(0);
    expect(writer.messageCount).toBe(0);
    writer.appendVerdict({ queue: 0, id: 2, verdict: NF_DROP });
    expect(writer.bytes().buffer).toBe(first.buffer);
    expect(hex(writer.bytes())).toBe(hex(buildVerdict({ queue: 0, id: 2, verdict: NF_DROP })));
  });

  it('leaves no half-written message when an option is invalid', () => {
    const writer = new VerdictWriter();
    writer.appendVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT });
    expect(() => writer.appendVerdict({ queue: 0, id: 2, verdict: NF_ACCEPT, mark: -5 })).toThrow(RangeError);
    expect(writer.messageCount).toBe(1);
    expect(writer.byteLength).toBe(32);
  });
});

describe('buildPacketMessage', () => {
  it('builds what PacketView reads back', () => {
    const message = buildPacketMessage({
      queue: 2,
      id: 11,
      hwProtocol: 0x86dd,
      hook: 1,
      family: 10,
      mark: 9,
      hwAddr: Uint8Array.of(1, 2, 3, 4, 5, 6),
      capLen: 3000,
      skbInfo: 2,
      uid: 0,
      gid: 0,
      indev: 3,
      payload: Uint8Array.of(0x60, 0, 0, 0),
    });
    const packet = parsePacket(message);
    expect([packet.queueNum, packet.id, packet.hwProtocol, packet.hook, packet.family]).toEqual([2, 11, 0x86dd, 1, 10]);
    expect([packet.mark, packet.capLen, packet.skbInfo, packet.uid, packet.gid, packet.indev]).toEqual([
      9, 3000, 2, 0, 0, 3,
    ]);
    expect([...packet.hwAddr!]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...packet.payload!]).toEqual([0x60, 0, 0, 0]);
    expect(packet.outdev).toBeUndefined();
  });
});

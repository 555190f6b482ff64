import { describe, expect, it } from 'vitest';
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_NFQ_CUT_BY_RECEIVER,
  NetlinkDecodeError,
  buildPacketMessage,
  decodeMessages,
  forEachPacket,
  iterateMessages,
} from '../src/index.js';
import { bytes, codeOf, le32 } from './bytes.js';

/** An NLMSG_DONE message of 20 bytes: header + 4 payload bytes. */
const done = [
  ...le32(20), // nlmsg_len
  0x03, 0x00, // nlmsg_type NLMSG_DONE
  0x02, 0x00, // nlmsg_flags NLM_F_MULTI
  ...le32(7), // nlmsg_seq
  ...le32(0), // nlmsg_pid (kernel)
  0xaa, 0xbb, 0xcc, 0xdd, // payload
];

/** An NLMSG_ERROR-typed message of 18 bytes (unaligned: 2 bytes of padding follow when not last). */
const unaligned = [
  ...le32(18), // nlmsg_len
  0x02, 0x00, // nlmsg_type NLMSG_ERROR
  0x00, 0x00, // nlmsg_flags
  ...le32(8), // nlmsg_seq
  ...le32(1234), // nlmsg_pid
  0x01, 0x02, // payload
];


describe('iterateMessages', () => {
  it('yields nothing for an empty buffer', () => {
    expect([...iterateMessages(new Uint8Array(0))]).toEqual([]);
  });

  it('yields every message of a batch with its header and a view of its bytes', () => {
    const batch = bytes(done, unaligned, [0x00, 0x00] /* padding */, done);
    const messages = [...iterateMessages(batch)];
    expect(messages.map((m) => [m.type, m.offset, m.length, m.seq])).toEqual([
      [NLMSG_DONE, 0, 20, 7],
      [NLMSG_ERROR, 20, 18, 8],
      [NLMSG_DONE, 40, 20, 7],
    ]);
    expect(messages[1]!.portId).toBe(1234);
    expect(messages[0]!.flags).toBe(2);
    expect([...messages[1]!.bytes.subarray(16)]).toEqual([0x01, 0x02]);
    // A view, not a copy.
    expect(messages[2]!.bytes.buffer).toBe(batch.buffer);
  });

  it('accepts a last message without its padding', () => {
    const messages = [...iterateMessages(bytes(done, unaligned))];
    expect(messages).toHaveLength(2);
    expect(messages[1]!.bytes.length).toBe(18);
  });

  it('rejects fewer than 16 bytes left as TRUNCATED_HEADER', () => {
    expect(codeOf(() => [...iterateMessages(bytes(done, [1, 2, 3, 4, 5, 6, 7, 8]))])).toEqual({
      code: 'TRUNCATED_HEADER',
      offset: 20,
    });
  });

  it('rejects a length below the header length instead of looping forever', () => {
    const zeroLength = [...le32(0), 0x03, 0x00, 0x00, 0x00, ...le32(0), ...le32(0)];
    expect(codeOf(() => [...iterateMessages(bytes(zeroLength))])).toEqual({ code: 'BAD_MESSAGE_LENGTH', offset: 0 });
    const fifteen = [...le32(15), 0x03, 0x00, 0x00, 0x00, ...le32(0), ...le32(0)];
    expect(codeOf(() => [...iterateMessages(bytes(done, fifteen))])).toEqual({ code: 'BAD_MESSAGE_LENGTH', offset: 20 });
  });

  it('rejects a length past the end of the buffer as MESSAGE_OVERRUN', () => {
    const tooLong = [...le32(4096), 0x03, 0x00, 0x00, 0x00, ...le32(0), ...le32(0), 0xff];
    expect(codeOf(() => [...iterateMessages(bytes(done, tooLong))])).toEqual({ code: 'MESSAGE_OVERRUN', offset: 20 });
  });

  it('yields the good messages before the bad one', () => {
    const seen: number[] = [];
    expect(() => {
      for (const message of iterateMessages(bytes(done, done, [0xde, 0xad]))) seen.push(message.offset);
    }).toThrow(NetlinkDecodeError);
    expect(seen).toEqual([0, 20]);
  });

  it('reads a message at a non-zero byteOffset of a larger ArrayBuffer', () => {
    const backing = new Uint8Array(64);
    backing.set(done, 3);
    const [message] = [...iterateMessages(backing.subarray(3, 23))];
    expect(message!.seq).toBe(7);
    expect(message!.length).toBe(20);
  });
});

describe('forEachPacket', () => {
  it('hands packets to onPacket and every other message, decoded, to onOther, in order', () => {
    const first = buildPacketMessage({ queue: 2, id: 1, hwProtocol: 0x0800, hook: 3, mark: 9 });
    const cut = buildPacketMessage({ queue: 2, id: 2, hwProtocol: 0x0800, hook: 3, flags: NLM_F_NFQ_CUT_BY_RECEIVER });
    const second = buildPacketMessage({ queue: 2, id: 3, hwProtocol: 0x0800, hook: 3 });
    const seen: Array<string | number> = [];
    forEachPacket(
      bytes([...first], [...cut], done, [...second]),
      (packet) => seen.push(packet.id, packet.mark ?? 'no mark'),
      (message) => seen.push(message.type),
    );
    expect(seen).toEqual([1, 9, 'packetCutByReceiver', 'done', 3, 'no mark']);
  });

  it('throws at the first malformed message after handling the ones before it', () => {
    const packet = buildPacketMessage({ queue: 0, id: 5, hwProtocol: 0x0800, hook: 3 });
    const ids: number[] = [];
    expect(codeOf(() => forEachPacket(bytes([...packet], [1, 2, 3]), (p) => ids.push(p.id)))).toEqual({
      code: 'TRUNCATED_HEADER',
      offset: packet.length,
    });
    expect(ids).toEqual([5]);
  });
});

describe('decodeMessages', () => {
  const packet = buildPacketMessage({ queue: 3, id: 41, hwProtocol: 0x0800, hook: 1, mark: 7 });

  it('yields each message by type, packets as views into the batch', () => {
    const ctnetlink = [...unaligned.slice(0, 4), 0x00, 0x01 /* nlmsg_type 0x0100: ctnetlink */, ...unaligned.slice(6)];
    const batch = bytes([...packet], done, ctnetlink, [0x00, 0x00] /* padding */);
    const decoded = [...decodeMessages(batch)];
    expect(decoded.map((message) => message.type)).toEqual(['packet', 'done', 'other']);
    const first = decoded[0]!;
    expect(first.type === 'packet' && [first.packet.queueNum, first.packet.id, first.packet.mark]).toEqual([3, 41, 7]);
    expect(first.type === 'packet' && first.packet.bytes.buffer).toBe(batch.buffer);
    const other = decoded[2]!;
    expect(other.type === 'other' && [other.messageType, other.length, [...other.bytes.subarray(16)]]).toEqual([
      0x0100,
      18,
      [0x01, 0x02],
    ]);
  });

  it('reads only the queue and id of a packet flagged NLM_F_NFQ_CUT_BY_RECEIVER', () => {
    const cut = buildPacketMessage({ queue: 3, id: 41, hwProtocol: 0x0800, hook: 1, flags: NLM_F_NFQ_CUT_BY_RECEIVER });
    expect([...decodeMessages(cut)]).toEqual([{ type: 'packetCutByReceiver', queue: 3, id: 41 }]);
  });

  it('stops at the first malformed message, with its offset in the batch, and stays done', () => {
    const iterator = decodeMessages(bytes(done, [1, 2, 3]));
    expect(iterator.next()).toEqual({ done: false, value: { type: 'done' } });
    expect(codeOf(() => iterator.next())).toEqual({ code: 'TRUNCATED_HEADER', offset: 20 });
    expect(iterator.next()).toEqual({ done: true, value: undefined });
  });
});

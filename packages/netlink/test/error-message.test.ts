import { describe, expect, it } from 'vitest';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NetlinkDecodeError, errnoName, parseError } from '../src/index.js';
import { bytes, codeOf, le32 } from './bytes.js';

/** The request the kernel answers: an NFQNL_MSG_VERDICT of 32 bytes, seq 9. */
const verdictRequest = [
  ...le32(32), // nlmsg_len
  0x01, 0x03, // nlmsg_type 0x0301 NFQNL_MSG_VERDICT
  0x01, 0x00, // nlmsg_flags NLM_F_REQUEST
  ...le32(9), // nlmsg_seq
  ...le32(0), // nlmsg_pid
  0x00, 0x00, 0x00, 0x00, // nfgenmsg: AF_UNSPEC, v0, queue 0
  0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x63, // NFQA_VERDICT_HDR accept id 99
];


/** nlmsghdr of an NLMSG_ERROR message. */
function errorHeader(length: number, flags: number): number[] {
  return [...le32(length), 0x02, 0x00, flags & 0xff, flags >>> 8, ...le32(9), ...le32(4321)];
}

describe('parseError', () => {
  it('decodes an acknowledgement (errno 0) with the capped request header', () => {
    const ack = bytes(errorHeader(36, NLM_F_CAPPED), le32(0) /* error 0 */, verdictRequest.slice(0, 16));
    const decoded = parseError(ack);
    expect(decoded.errno).toBe(0);
    expect(decoded.code).toBeUndefined();
    expect(decoded.request.type).toBe(0x0301);
    expect(decoded.request.seq).toBe(9);
    expect(decoded.requestBytes).toBeUndefined();
    expect(decoded.header.portId).toBe(4321);
  });

  it('decodes an error that echoes the whole request (no NLM_F_CAPPED)', () => {
    const enoent = bytes(errorHeader(52, 0), le32(-2 >>> 0) /* -ENOENT */, verdictRequest);
    const decoded = parseError(enoent);
    expect(decoded.errno).toBe(2);
    expect(decoded.code).toBe('ENOENT');
    expect(decoded.requestBytes).toEqual(Uint8Array.from(verdictRequest));
    expect(decoded.extAckMessage).toBeUndefined();
  });

  it('reads the extended ack message and offset after a capped request', () => {
    const message = 'Invalid flags'.split('').map((c) => c.charCodeAt(0));
    const withTlvs = bytes(
      errorHeader(64, NLM_F_CAPPED | NLM_F_ACK_TLVS),
      le32(-95 >>> 0), // -EOPNOTSUPP
      verdictRequest.slice(0, 16), // echoed header only (capped)
      [0x12, 0x00, 0x01, 0x00, ...message, 0x00, 0x00, 0x00], // NLMSGERR_ATTR_MSG "Invalid flags\0" + pad 2
      [0x08, 0x00, 0x02, 0x00, ...le32(20)], // NLMSGERR_ATTR_OFFS 20 (host order)
    );
    const decoded = parseError(withTlvs);
    expect(decoded.code).toBe('EOPNOTSUPP');
    expect(decoded.extAckMessage).toBe('Invalid flags');
    expect(decoded.extAckOffset).toBe(20);
  });

  it('finds the extended ack attributes after an uncapped request', () => {
    const withTlvs = bytes(
      errorHeader(64, NLM_F_ACK_TLVS),
      le32(-1 >>> 0), // -EPERM
      verdictRequest, // whole request echoed
      [0x0c, 0x00, 0x01, 0x00, 0x6e, 0x6f, 0x70, 0x65, 0x00, 0x00, 0x00, 0x00], // NLMSGERR_ATTR_MSG "nope\0" + pad
    );
    const decoded = parseError(withTlvs);
    expect(decoded.code).toBe('EPERM');
    expect(decoded.extAckMessage).toBe('nope');
  });

  it('rejects an error message too short for errno and the echoed header as TRUNCATED_ERROR', () => {
    expect(() => parseError(bytes(errorHeader(20, 0), le32(0)))).toThrow(NetlinkDecodeError);
    expect(codeOf(() => parseError(bytes(errorHeader(20, 0), le32(0))))).toEqual({ code: 'TRUNCATED_ERROR', offset: 16 });
  });

  it('rejects an uncapped error whose echoed request leaves no room for its TLVs as TRUNCATED_ERROR', () => {
    // ACK_TLVS, errno -EPERM, not capped: the whole request (length 200) should come before the TLVs.
    const echoTooLong = bytes(errorHeader(36, NLM_F_ACK_TLVS), le32(-1 >>> 0), [...le32(200), ...verdictRequest.slice(4, 16)]);
    expect(codeOf(() => parseError(echoTooLong))).toEqual({ code: 'TRUNCATED_ERROR', offset: 16 });
    // Without TLVs there is nothing to find after the request: the header is decoded, the bytes are not given.
    const withoutTlvs = bytes(errorHeader(36, 0), le32(-1 >>> 0), [...le32(200), ...verdictRequest.slice(4, 16)]);
    const decoded = parseError(withoutTlvs);
    expect(decoded.request.length).toBe(200);
    expect(decoded.requestBytes).toBeUndefined();
  });

  it('rejects an echoed request length near 2^32 as TRUNCATED_ERROR instead of wrapping around (found by fuzzing)', () => {
    const hugeEcho = bytes(
      errorHeader(44, NLM_F_ACK_TLVS),
      le32(-1 >>> 0), // -EPERM: the whole request should be echoed
      [...le32(0xfffffffe), ...verdictRequest.slice(4, 16)], // echoed nlmsg_len 2^32 - 2
      [0x08, 0x00, 0x02, 0x00, ...le32(24)],
    );
    expect(codeOf(() => parseError(hugeEcho))).toEqual({ code: 'TRUNCATED_ERROR', offset: 16 });
  });

  it('reads the TLVs right after the echoed header for an acknowledgement, even without NLM_F_CAPPED', () => {
    const ack = bytes(
      errorHeader(44, NLM_F_ACK_TLVS),
      le32(0),
      verdictRequest.slice(0, 16),
      [0x08, 0x00, 0x02, 0x00, ...le32(24)], // NLMSGERR_ATTR_OFFS 24
    );
    expect(parseError(ack).extAckOffset).toBe(24);
  });

  it('rejects a malformed TLV with the attribute error at its offset', () => {
    const badTlv = bytes(errorHeader(44, NLM_F_CAPPED | NLM_F_ACK_TLVS), le32(-1 >>> 0), verdictRequest.slice(0, 16), [
      0x40, 0x00, 0x01, 0x00, // NLMSGERR_ATTR_MSG claiming 64 bytes
      0x61, 0x00, 0x00, 0x00,
    ]);
    expect(codeOf(() => parseError(badTlv))).toEqual({ code: 'ATTRIBUTE_OVERRUN', offset: 36 });
  });

  it('rejects a message of another type', () => {
    const notError = Uint8Array.from(bytes(errorHeader(36, NLM_F_CAPPED), le32(0), verdictRequest.slice(0, 16)));
    notError[4] = 3; // NLMSG_DONE
    expect(() => parseError(notError)).toThrow(/not NLMSG_ERROR/);
  });

  it('names errno values', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(105)).toBe('ENOBUFS');
    expect(errnoName(4095)).toBe('E4095');
  });
});

/**
 * What was wrong with the bytes, as a stable code to test against; the same codes as nfq-core's
 * `DecodeErrorKind::code` (see `fixtures/README.md`). The comment of each says where its offset
 * points.
 */
export type NetlinkDecodeErrorCode =
  /** Fewer than 16 bytes where a message header should be; offset: the start of those bytes. */
  | 'TRUNCATED_HEADER'
  /** `nlmsg_len` below 16; offset: the message. */
  | 'BAD_MESSAGE_LENGTH'
  /** `nlmsg_len` past the end of the buffer; offset: the message. */
  | 'MESSAGE_OVERRUN'
  /** A packet message shorter than nlmsghdr + nfgenmsg (20 bytes); offset: message + 16. */
  | 'TRUNCATED_NFGENMSG'
  /** 1 to 3 bytes left where an attribute header should be; offset: those bytes. */
  | 'TRUNCATED_ATTRIBUTE'
  /** `nla_len` below 4 (the attribute header itself); offset: the attribute. */
  | 'BAD_ATTRIBUTE_HEADER'
  /** `nla_len` past the end of the message or of the enclosing nest; offset: the attribute. */
  | 'ATTRIBUTE_OVERRUN'
  /** A payload size that is wrong for the attribute's type; offset: the attribute. */
  | 'BAD_ATTRIBUTE_LENGTH'
  /** A packet message without NFQA_PACKET_HDR; offset: message + 20. */
  | 'MISSING_ATTRIBUTE'
  /** A strict decode of a message of another type; offset: message + 4 (nlmsg_type). */
  | 'UNEXPECTED_MESSAGE_TYPE'
  /** An NLMSG_ERROR too short for its errno and echoed header, or for its TLVs; offset: message + 16. */
  | 'TRUNCATED_ERROR';

/** The bytes handed to a decoder are not a well-formed netlink message. */
export class NetlinkDecodeError extends Error {
  /** What was wrong, as a stable code. */
  readonly code: NetlinkDecodeErrorCode;
  /** Byte offset, in the buffer given to the decoder, where the problem was found. */
  readonly offset: number;

  /** Creates an error with a code, the offset of the problem and a sentence for a person. */
  constructor(code: NetlinkDecodeErrorCode, offset: number, message: string) {
    super(`${message} (${code} at byte ${offset})`);
    this.name = 'NetlinkDecodeError';
    this.code = code;
    this.offset = offset;
  }
}

/**
 * A value handed to a builder does not fit its field (a queue number over 65535, a negative id, a
 * fraction): nothing was encoded. A RangeError, with a stable `code` and the field's name.
 */
export class NetlinkRangeError extends RangeError {
  /** Stable code to test against. */
  readonly code = 'ERR_OUT_OF_RANGE';
  /** The field, e.g. `'queue'`. */
  readonly field: string;

  /** Creates the error for `field`; `message` says what it accepts. */
  constructor(field: string, message: string) {
    super(message);
    this.name = 'NetlinkRangeError';
    this.field = field;
  }
}

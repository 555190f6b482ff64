/** What was wrong with the bytes, as a stable code to test against. */
export type NetlinkDecodeErrorCode =
  /** Fewer bytes remain than a netlink message header needs (16). */
  | 'TRUNCATED_HEADER'
  /** A message header gives a length below 16. */
  | 'BAD_MESSAGE_LENGTH'
  /** A message header gives a length past the end of the buffer. */
  | 'MESSAGE_OVERRUN'
  /** Fewer bytes remain than an attribute header needs (4). */
  | 'TRUNCATED_ATTRIBUTE'
  /** An attribute header gives a length past the end of its message (or enclosing attribute). */
  | 'ATTRIBUTE_OVERRUN'
  /** An attribute's length is below 4, or wrong for its type. */
  | 'BAD_ATTRIBUTE_LENGTH'
  /** An attribute's value is impossible (e.g. a hardware address longer than 8 bytes). */
  | 'BAD_ATTRIBUTE_VALUE'
  /** An attribute the message must have is absent. */
  | 'MISSING_ATTRIBUTE'
  /** The message is not of the type the decoder was asked to read. */
  | 'UNEXPECTED_MESSAGE_TYPE';

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

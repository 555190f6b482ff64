import { NLMSG_HDRLEN } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, readU16Host, readU32Host } from './wire.js';
import { NLMSG_FLAGS_AT, NLMSG_PID_AT, NLMSG_SEQ_AT, NLMSG_TYPE_AT } from './layout.js';

/**
 * The header of one netlink message (`struct nlmsghdr`, host byte order):
 *
 * ```text
 *  0               4       6       8               12              16
 * +---------------+-------+-------+---------------+---------------+
 * | nlmsg_len     | type  | flags | nlmsg_seq     | nlmsg_pid     |
 * +---------------+-------+-------+---------------+---------------+
 * ```
 */
export interface NetlinkHeader {
  /** Length of the message including this header (`nlmsg_len`). */
  readonly length: number;
  /** Message type (`nlmsg_type`); for nfnetlink `(subsystem << 8) | message`. */
  readonly type: number;
  /** NLM_F_* flags. */
  readonly flags: number;
  /** Sequence number. */
  readonly seq: number;
  /** Netlink port id of the sender (0 for the kernel). */
  readonly portId: number;
}

/** Reads a netlink message header at `offset` of `view` (the caller checked 16 bytes are there). */
export function readHeader(view: DataView, offset: number): NetlinkHeader {
  return {
    length: view.getUint32(offset, HOST_IS_LITTLE_ENDIAN),
    type: view.getUint16(offset + NLMSG_TYPE_AT, HOST_IS_LITTLE_ENDIAN),
    flags: view.getUint16(offset + NLMSG_FLAGS_AT, HOST_IS_LITTLE_ENDIAN),
    seq: view.getUint32(offset + NLMSG_SEQ_AT, HOST_IS_LITTLE_ENDIAN),
    portId: view.getUint32(offset + NLMSG_PID_AT, HOST_IS_LITTLE_ENDIAN),
  };
}

/**
 * Reads a netlink message header at `offset` of `bytes` (the caller checked 16 bytes are there).
 *
 * @internal
 */
export function readHeaderAt(bytes: Uint8Array, offset: number): NetlinkHeader {
  return {
    length: readU32Host(bytes, offset),
    type: readU16Host(bytes, offset + NLMSG_TYPE_AT),
    flags: readU16Host(bytes, offset + NLMSG_FLAGS_AT),
    seq: readU32Host(bytes, offset + NLMSG_SEQ_AT),
    portId: readU32Host(bytes, offset + NLMSG_PID_AT),
  };
}

/**
 * Checks the framing of the message at `offset` of `bytes`, in a buffer that ends at `end`, and
 * returns its `nlmsg_len`. Throws {@link NetlinkDecodeError} at `offset`: `TRUNCATED_HEADER` when
 * fewer than 16 bytes are left, `BAD_MESSAGE_LENGTH` for a length below 16, `MESSAGE_OVERRUN`
 * for a length past `end`. The next message starts at `offset + align4(length)`.
 *
 * @internal
 */
export function checkedMessageLength(bytes: Uint8Array, offset: number, end: number): number {
  const left = end - offset;
  if (left < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError('TRUNCATED_HEADER', offset, `${left} bytes left, too few for a netlink message header`);
  }
  const length = readU32Host(bytes, offset);
  if (length < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError('BAD_MESSAGE_LENGTH', offset, `netlink message length ${length} is below 16`);
  }
  if (length > left) {
    throw new NetlinkDecodeError(
      'MESSAGE_OVERRUN',
      offset,
      `netlink message length ${length} runs past the ${left} bytes left`,
    );
  }
  return length;
}

import { NLMSG_HDRLEN } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, align4, viewOf } from './wire.js';

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

/** One message found in a buffer of many. */
export interface NetlinkMessage extends NetlinkHeader {
  /** Byte offset of the message in the buffer that was iterated. */
  readonly offset: number;
  /** The message's bytes, header included (a view into the buffer: no copy). */
  readonly bytes: Uint8Array;
}

/** Reads a netlink message header at `offset` of `view` (the caller checked 16 bytes are there). */
export function readHeader(view: DataView, offset: number): NetlinkHeader {
  return {
    length: view.getUint32(offset, HOST_IS_LITTLE_ENDIAN),
    type: view.getUint16(offset + 4, HOST_IS_LITTLE_ENDIAN),
    flags: view.getUint16(offset + 6, HOST_IS_LITTLE_ENDIAN),
    seq: view.getUint32(offset + 8, HOST_IS_LITTLE_ENDIAN),
    portId: view.getUint32(offset + 12, HOST_IS_LITTLE_ENDIAN),
  };
}

/**
 * Yields each netlink message of a buffer that holds one or many (a received batch).
 *
 * Each message's `bytes` is a view into `buffer`. Throws {@link NetlinkDecodeError} with the
 * offset of the bad header when fewer than 16 bytes remain (`TRUNCATED_HEADER`), when a length is
 * below 16 (`BAD_MESSAGE_LENGTH`) or when it runs past the end of the buffer (`MESSAGE_OVERRUN`).
 * Every message advances the position by at least 16 bytes, so iteration always ends.
 */
export function* iterateMessages(buffer: Uint8Array): Generator<NetlinkMessage, void, undefined> {
  const view = viewOf(buffer);
  let offset = 0;
  while (offset < buffer.length) {
    const remaining = buffer.length - offset;
    if (remaining < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        'TRUNCATED_HEADER',
        offset,
        `${remaining} bytes left, too few for a netlink message header`,
      );
    }
    const header = readHeader(view, offset);
    if (header.length < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        'BAD_MESSAGE_LENGTH',
        offset,
        `netlink message length ${header.length} is below the header length`,
      );
    }
    if (header.length > remaining) {
      throw new NetlinkDecodeError(
        'MESSAGE_OVERRUN',
        offset,
        `netlink message length ${header.length} runs past the ${remaining} bytes left`,
      );
    }
    yield { ...header, offset, bytes: buffer.subarray(offset, offset + header.length) };
    // The last message of a buffer may lack its padding: never step past the end.
    offset = Math.min(offset + align4(header.length), buffer.length);
  }
}

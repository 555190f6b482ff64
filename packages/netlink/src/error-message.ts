import {
  NLMSGERR_ATTR_COOKIE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
} from './constants.js';
import { forEachAttribute } from './attributes.js';
import { NetlinkDecodeError } from './errors.js';
import { type NetlinkHeader, readHeader } from './messages.js';
import { HOST_IS_LITTLE_ENDIAN, align4, viewOf } from './wire.js';

/** Length of `int error` in `struct nlmsgerr`. */
const ERROR_FIELD_LENGTH = 4;

/** Names of the errno values a netlink or nfqueue user meets (Linux numbering). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  4: 'EINTR',
  5: 'EIO',
  7: 'E2BIG',
  9: 'EBADF',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  28: 'ENOSPC',
  34: 'ERANGE',
  71: 'EPROTO',
  90: 'EMSGSIZE',
  93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP',
  97: 'EAFNOSUPPORT',
  105: 'ENOBUFS',
  110: 'ETIMEDOUT',
};

/** The symbolic name of a (positive) Linux errno, e.g. `errnoName(1) === 'EPERM'`; `E<n>` if unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * A decoded NLMSG_ERROR message: the kernel's answer to a request that failed, or (errno 0) an
 * acknowledgement.
 *
 * ```text
 *  0           16          20                36
 * +-----------+-----------+-----------------+--------------------------+----------------+
 * | nlmsghdr  | int error | echoed nlmsghdr | echoed payload           | NLMSGERR_ATTR_* |
 * |           | (-errno)  |                 | (absent if NLM_F_CAPPED) | (NLM_F_ACK_TLVS)|
 * +-----------+-----------+-----------------+--------------------------+----------------+
 * ```
 */
export interface NetlinkErrorMessage {
  /** The header of the NLMSG_ERROR message itself. */
  readonly header: NetlinkHeader;
  /** Positive errno (the kernel sends it negated); 0 for an acknowledgement. */
  readonly errno: number;
  /** Symbolic errno name, e.g. 'EPERM'; undefined for an acknowledgement. */
  readonly code: string | undefined;
  /** Header of the request the kernel answers. */
  readonly request: NetlinkHeader;
  /** The whole echoed request (header included) unless NLM_F_CAPPED; a view, not a copy. */
  readonly requestBytes: Uint8Array | undefined;
  /** Extended-ack message for a person (NLMSGERR_ATTR_MSG). */
  readonly extendedMessage: string | undefined;
  /** Offset, in the request, of the attribute that caused the error (NLMSGERR_ATTR_OFFS). */
  readonly extendedOffset: number | undefined;
  /** Opaque extended-ack cookie (NLMSGERR_ATTR_COOKIE). */
  readonly cookie: Uint8Array | undefined;
}

const textDecoder = new TextDecoder();

/** Decodes an NLMSG_ERROR message; throws {@link NetlinkDecodeError} if it is malformed. */
export function parseError(message: Uint8Array): NetlinkErrorMessage {
  const minimum = NLMSG_HDRLEN + ERROR_FIELD_LENGTH + NLMSG_HDRLEN;
  if (message.length < NLMSG_HDRLEN) {
    throw new NetlinkDecodeError('TRUNCATED_HEADER', 0, `${message.length} bytes are too few for a netlink header`);
  }
  const view = viewOf(message);
  const header = readHeader(view, 0);
  if (header.type !== NLMSG_ERROR) {
    throw new NetlinkDecodeError('UNEXPECTED_MESSAGE_TYPE', 4, `message type ${header.type} is not NLMSG_ERROR`);
  }
  if (header.length > message.length) {
    throw new NetlinkDecodeError('MESSAGE_OVERRUN', 0, `error message length ${header.length} runs past the bytes given`);
  }
  if (header.length < minimum) {
    throw new NetlinkDecodeError('BAD_MESSAGE_LENGTH', 0, `error message length ${header.length} is below ${minimum}`);
  }
  const error = view.getInt32(NLMSG_HDRLEN, HOST_IS_LITTLE_ENDIAN);
  const errno = error === 0 ? 0 : -error; // not -0 for an acknowledgement
  const requestOffset = NLMSG_HDRLEN + ERROR_FIELD_LENGTH;
  const request = readHeader(view, requestOffset);
  const capped = (header.flags & NLM_F_CAPPED) !== 0;
  let requestBytes: Uint8Array | undefined;
  let echoedLength = NLMSG_HDRLEN;
  if (!capped) {
    if (request.length < NLMSG_HDRLEN || request.length > header.length - requestOffset) {
      throw new NetlinkDecodeError(
        'MESSAGE_OVERRUN',
        requestOffset,
        `echoed request length ${request.length} does not fit in the error message`,
      );
    }
    echoedLength = request.length;
    requestBytes = message.subarray(requestOffset, requestOffset + request.length);
  }
  let extendedMessage: string | undefined;
  let extendedOffset: number | undefined;
  let cookie: Uint8Array | undefined;
  if ((header.flags & NLM_F_ACK_TLVS) !== 0) {
    const start = NLMSG_HDRLEN + align4(ERROR_FIELD_LENGTH + echoedLength);
    forEachAttribute(view, Math.min(start, header.length), header.length, (type, valueOffset, valueLength) => {
      const value = message.subarray(valueOffset, valueOffset + valueLength);
      if (type === NLMSGERR_ATTR_MSG) {
        let end = value.length;
        while (end > 0 && value[end - 1] === 0) end--;
        extendedMessage = textDecoder.decode(value.subarray(0, end));
      } else if (type === NLMSGERR_ATTR_OFFS) {
        if (valueLength !== 4) {
          throw new NetlinkDecodeError('BAD_ATTRIBUTE_LENGTH', valueOffset - 4, 'NLMSGERR_ATTR_OFFS is not 4 bytes');
        }
        extendedOffset = view.getUint32(valueOffset, HOST_IS_LITTLE_ENDIAN);
      } else if (type === NLMSGERR_ATTR_COOKIE) {
        cookie = value;
      }
    });
  }
  return {
    header,
    errno,
    code: errno === 0 ? undefined : errnoName(errno),
    request,
    requestBytes,
    extendedMessage,
    extendedOffset,
    cookie,
  };
}

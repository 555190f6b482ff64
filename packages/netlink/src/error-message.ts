import {
  NLMSGERR_ATTR_COOKIE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
} from './constants.js';
import { checkedAttributeLength } from './attributes.js';
import { NetlinkDecodeError } from './errors.js';
import { ERRNO_NAMES } from './facts.js';
import { type NetlinkHeader, checkedMessageLength, readHeaderAt } from './header.js';
import { align4, readU16Host, readU32Host } from './wire.js';
import { NLA_TYPE_AT } from './layout.js';

/** Length of `int error` in `struct nlmsgerr`. */
const ERROR_FIELD_LENGTH = 4;

/** The symbolic name of a (positive) Linux errno, e.g. `errnoName(1) === 'EPERM'`; `E<n>` for one without a name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * A decoded NLMSG_ERROR message: the kernel's answer to a request that failed, or (errno 0) an
 * acknowledgement.
 *
 * ```text
 *  0           16          20                36
 * +-----------+-----------+-----------------+--------------------------+------------------+
 * | nlmsghdr  | int error | echoed nlmsghdr | echoed request payload   | NLMSGERR_ATTR_*  |
 * |           | (-errno)  |                 | (absent if NLM_F_CAPPED  | (if              |
 * |           |           |                 |  or errno 0)             |  NLM_F_ACK_TLVS) |
 * +-----------+-----------+-----------------+--------------------------+------------------+
 * ```
 */
export interface NetlinkErrorMessage {
  /** The header of the NLMSG_ERROR message itself. */
  readonly header: NetlinkHeader;
  /** Positive errno (the kernel sends it negated); 0 for an acknowledgement. */
  readonly errno: number;
  /** Symbolic errno name, e.g. 'EPERM'; undefined for an acknowledgement. */
  readonly code: string | undefined;
  /** Header of the request the kernel answers (as echoed; its length is not checked). */
  readonly request: NetlinkHeader;
  /**
   * The whole echoed request, header included, when the kernel echoed it (not NLM_F_CAPPED, errno
   * not 0) and its length fits in the error message; a view, not a copy.
   */
  readonly requestBytes: Uint8Array | undefined;
  /** Extended-ack text for a person (NLMSGERR_ATTR_MSG, up to its first NUL; valid UTF-8 only). */
  readonly extAckMessage: string | undefined;
  /** Offset, in the request, of the attribute that caused the error (NLMSGERR_ATTR_OFFS, 4 bytes). */
  readonly extAckOffset: number | undefined;
  /** Opaque extended-ack cookie (NLMSGERR_ATTR_COOKIE). */
  readonly extAckCookie: Uint8Array | undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Positions of `struct nlmsgerr` fields, from the start of the NLMSG_ERROR message. */
const ERRNO_OFFSET = NLMSG_HDRLEN;
const REQUEST_OFFSET = NLMSG_HDRLEN + ERROR_FIELD_LENGTH;
/** Smallest NLMSG_ERROR: header, error, echoed request header. */
const ERROR_MESSAGE_MIN_LENGTH = REQUEST_OFFSET + NLMSG_HDRLEN;

/**
 * Decodes the NLMSG_ERROR message `buffer[start, start + length)` (framing already checked);
 * offsets in errors count from the start of `buffer`.
 *
 * @internal Used by {@link parseError} and {@link decodeMessages}.
 */
export function decodeErrorMessageAt(buffer: Uint8Array, start: number, length: number): NetlinkErrorMessage {
  if (length < ERROR_MESSAGE_MIN_LENGTH) {
    throw new NetlinkDecodeError(
      'TRUNCATED_ERROR',
      start + ERRNO_OFFSET,
      `error message length ${length} is below ${ERROR_MESSAGE_MIN_LENGTH} (header, errno, echoed header)`,
    );
  }
  const header = readHeaderAt(buffer, start);
  const error = readU32Host(buffer, start + ERRNO_OFFSET) | 0;
  // Never -0; INT32_MIN, the one value without a negation in 32 bits, reads as INT32_MAX as in nfq-core.
  const errno = error === 0 ? 0 : Math.min(-error, 0x7fffffff);
  const request = readHeaderAt(buffer, start + REQUEST_OFFSET);
  const echoedWhole = (header.flags & NLM_F_CAPPED) === 0 && errno !== 0;
  const end = start + length;
  const requestBytes =
    echoedWhole && request.length >= NLMSG_HDRLEN && request.length <= length - REQUEST_OFFSET
      ? buffer.subarray(start + REQUEST_OFFSET, start + REQUEST_OFFSET + request.length)
      : undefined;
  let extAckMessage: string | undefined;
  let extAckOffset: number | undefined;
  let extAckCookie: Uint8Array | undefined;
  if ((header.flags & NLM_F_ACK_TLVS) !== 0) {
    // The echoed length is checked before it is aligned: align4 of a u32 near 2^32 would wrap.
    const echoedLength = echoedWhole ? request.length : NLMSG_HDRLEN;
    if (echoedLength > length - REQUEST_OFFSET || align4(echoedLength) > length - REQUEST_OFFSET) {
      throw new NetlinkDecodeError(
        'TRUNCATED_ERROR',
        start + ERRNO_OFFSET,
        `error message length ${length} leaves no room for the ${echoedLength}-byte echoed request before its TLVs`,
      );
    }
    for (let offset = start + REQUEST_OFFSET + align4(echoedLength); offset < end; ) {
      const attributeLength = checkedAttributeLength(buffer, offset, end);
      const type = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
      const value = buffer.subarray(offset + NLA_HDRLEN, offset + attributeLength);
      if (type === NLMSGERR_ATTR_MSG) {
        const nul = value.indexOf(0);
        extAckMessage = decodeUtf8(nul < 0 ? value : value.subarray(0, nul));
      } else if (type === NLMSGERR_ATTR_OFFS) {
        if (value.length === 4) extAckOffset = readU32Host(value, 0);
      } else if (type === NLMSGERR_ATTR_COOKIE) {
        extAckCookie = value;
      }
      offset += align4(attributeLength);
    }
  }
  return {
    header,
    errno,
    code: errno === 0 ? undefined : errnoName(errno),
    request,
    requestBytes,
    extAckMessage,
    extAckOffset,
    extAckCookie,
  };
}

/** `bytes` as UTF-8 text, or undefined when they are not valid UTF-8. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes one NLMSG_ERROR message (`message` may hold bytes after it, which are ignored); throws
 * {@link NetlinkDecodeError} if it is malformed or of another type, with offsets counted from
 * the start of `message`.
 */
export function parseError(message: Uint8Array): NetlinkErrorMessage {
  const length = checkedMessageLength(message, 0, message.length);
  const type = readU16Host(message, 4);
  if (type !== NLMSG_ERROR) {
    throw new NetlinkDecodeError('UNEXPECTED_MESSAGE_TYPE', 4, `message type ${type} is not NLMSG_ERROR (2)`);
  }
  return decodeErrorMessageAt(message, 0, length);
}

/** Why a header could not be read; the `code` of a {@link MalformedPacketError}. */
export type MalformedPacketCode =
  /** The bytes end before a header (or the length a header declares) does. */
  | 'ERR_PACKET_TRUNCATED'
  /** The IP version nibble is not the one expected (4 or 6). */
  | 'ERR_PACKET_BAD_VERSION'
  /** A header-length field is below its minimum (IPv4 IHL < 5, TCP data offset < 5). */
  | 'ERR_PACKET_BAD_HEADER_LENGTH'
  /** A length field contradicts the header it belongs to (IPv4 total length < IHL, UDP length < 8). */
  | 'ERR_PACKET_BAD_LENGTH';

/**
 * Bytes that do not hold a valid header: truncated, or with a field that contradicts the rest.
 * Thrown by every header view and by everything built on them; no other error escapes a parse.
 */
export class MalformedPacketError extends Error {
  /** Stable code to test against. */
  readonly code: MalformedPacketCode;
  /** Byte offset of the offending field, from the start of the bytes handed to the parser. */
  readonly offset: number;
  /** What was being read, e.g. 'IPv4 header', 'TCP options', 'IPv6 fragment header'. */
  readonly what: string;
  /** What is wrong with it, e.g. 'needs 20 bytes, 12 left'. */
  readonly detail: string;

  /** Creates the error for `what` at `offset`; `detail` completes the message. */
  constructor(code: MalformedPacketCode, offset: number, what: string, detail: string) {
    super(`malformed packet: ${what} at offset ${offset}: ${detail}`);
    this.name = 'MalformedPacketError';
    this.code = code;
    this.offset = offset;
    this.what = what;
    this.detail = detail;
  }

  /** The same error with `offset` moved by `base` (for a header parsed inside a larger packet). @internal */
  shiftedBy(base: number): MalformedPacketError {
    return base === 0 ? this : new MalformedPacketError(this.code, this.offset + base, this.what, this.detail);
  }
}

/** An edit would make a packet longer than its length field can say (IPv4 total length or IPv6 payload length > 65535). */
export class PacketTooLargeError extends Error {
  /** Stable code to test against. */
  readonly code = 'ERR_PACKET_TOO_LARGE';
  /** The length the edit would produce, in the unit of the limited field (bytes). */
  readonly length: number;
  /** The largest length the field can hold. */
  readonly limit: number;

  /** Creates the error for a `what` of `length` bytes over `limit`. */
  constructor(what: string, length: number, limit: number) {
    super(`the edited packet would have a ${what} of ${length} bytes, over the limit of ${limit}`);
    this.name = 'PacketTooLargeError';
    this.length = length;
    this.limit = limit;
  }
}

/** A mangle names bytes outside the region it may edit. */
export class MangleRangeError extends Error {
  /** Stable code to test against. */
  readonly code = 'ERR_MANGLE_OUT_OF_RANGE';
  /** Offset asked for, relative to the region's start. */
  readonly offset: number;
  /** Number of bytes asked to be replaced. */
  readonly length: number;
  /** Number of bytes in the region. */
  readonly available: number;

  /** Creates the error for `[offset, offset + length)` against a region of `available` bytes. */
  constructor(region: string, offset: number, length: number, available: number, hint = '') {
    super(
      `cannot replace ${length} bytes at offset ${offset} of the ${region}, which has ${available} bytes${hint ? `: ${hint}` : ''}`,
    );
    this.name = 'MangleRangeError';
    this.offset = offset;
    this.length = length;
    this.available = available;
  }
}

/** A valid packet that a mangle cannot edit correctly (a fragment, or a protocol without a known payload start). */
export class MangleUnsupportedError extends Error {
  /** Stable code to test against. */
  readonly code = 'ERR_MANGLE_UNSUPPORTED';

  /** Creates the error with the reason as message. */
  constructor(reason: string) {
    super(`cannot mangle this packet: ${reason}`);
    this.name = 'MangleUnsupportedError';
  }
}

/** A mangle was called with arguments of the wrong kind (a replacement that is not a Uint8Array, an edit that is not an object). */
export class MangleArgumentError extends TypeError {
  /** Stable code to test against. */
  readonly code = 'ERR_MANGLE_INVALID_ARGUMENT';

  /** Creates the error with what is wrong as message. */
  constructor(message: string) {
    super(message);
    this.name = 'MangleArgumentError';
  }
}

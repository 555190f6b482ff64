/** Byte-level helpers shared by the header views. @internal */
import { MalformedPacketError } from './errors.js';

/** Options of the header views and of {@link parseIp}. */
export interface ParseOptions {
  /**
   * Accept a packet cut short after its headers, as the kernel hands them out when the copy range
   * is smaller than the packet: every header must still be whole, but the payload is whatever
   * bytes are there and the view's `truncated` is true. Off by default: a cut packet throws
   * `ERR_PACKET_TRUNCATED`, since its checksums cannot be verified or recomputed.
   */
  allowTruncated?: boolean;
}

/** A DataView over exactly `bytes` (no byte before or after it can be read through it). @internal */
export function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws ERR_PACKET_TRUNCATED unless `bytes` has at least `offset + needed` bytes. @internal */
export function requireBytes(bytes: Uint8Array, offset: number, needed: number, what: string): void {
  if (bytes.length < offset + needed) {
    throw new MalformedPacketError(
      'ERR_PACKET_TRUNCATED',
      offset,
      what,
      `needs ${needed} bytes, ${Math.max(0, bytes.length - offset)} left`,
    );
  }
}

import { NLMSG_ALIGNTO } from './constants.js';

/** True when this machine stores integers little-endian (netlink headers use host byte order). */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Rounds a length up to the netlink alignment (4 bytes). For lengths below 2^31 - 3 (every
 * length that fits in a buffer this package reads); check larger untrusted values first.
 */
export function align4(length: number): number {
  return (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}

/** A DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The readers below index the Uint8Array directly: no DataView to create or keep, and V8 compiles
// them to a few loads. Callers check bounds first; they never read past what they checked.

/** The host-order u16 at `offset` of `bytes` (nlmsg_type, nlmsg_flags, nla_len, nla_type). */
export function readU16Host(bytes: Uint8Array, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN
    ? bytes[offset]! | (bytes[offset + 1]! << 8)
    : (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** The host-order u32 at `offset` of `bytes` (nlmsg_len, nlmsg_seq, nlmsg_pid). */
export function readU32Host(bytes: Uint8Array, offset: number): number {
  return HOST_IS_LITTLE_ENDIAN
    ? (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0
    : ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** The big-endian (network order) u16 at `offset` of `bytes` (NFQA_* values, res_id). */
export function readU16Big(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** The big-endian (network order) u32 at `offset` of `bytes` (NFQA_* values). */
export function readU32Big(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

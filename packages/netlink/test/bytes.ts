/**
 * Helpers for hand-made netlink bytes in tests. Netlink headers are in host byte order; these
 * tests assume a little-endian host (x86-64, arm64), as the project's machines are.
 */

import { expect } from 'vitest';
import { NetlinkDecodeError } from '../src/index.js';

/** The code and offset of the NetlinkDecodeError that `run` throws. */
export function codeOf(run: () => unknown): { code: string; offset: number } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(NetlinkDecodeError);
    const decodeError = error as NetlinkDecodeError;
    return { code: decodeError.code, offset: decodeError.offset };
  }
  throw new Error('expected a NetlinkDecodeError');
}

/** Concatenates byte groups (each group one field or attribute, commented at the call site). */
export function bytes(...groups: readonly (readonly number[])[]): Uint8Array {
  return Uint8Array.from(groups.flat());
}

/** A little-endian u32 as 4 bytes (nlmsg_len, nlmsg_seq, ...). */
export function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

/** A big-endian u32 as 4 bytes (NFQA_* integer values). */
export function be32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** Hex of a byte array, for readable failure messages. */
export function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

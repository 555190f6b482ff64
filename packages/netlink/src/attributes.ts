import { NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, align4, readU16Host } from './wire.js';
import { NLA_TYPE_AT } from './layout.js';

/**
 * Checks the header of the attribute (`struct nlattr`) at `offset` of `bytes`, in an attribute
 * area that ends at `end` (exclusive), and returns its `nla_len` (header included, padding
 * excluded). Throws {@link NetlinkDecodeError}: `TRUNCATED_ATTRIBUTE` for 1 to 3 bytes left,
 * `BAD_ATTRIBUTE_HEADER` for a length below 4, `ATTRIBUTE_OVERRUN` for a length past `end`.
 * The next attribute starts at `offset + align4(length)`.
 *
 * @internal Shared by the decoders of this package.
 */
export function checkedAttributeLength(bytes: Uint8Array, offset: number, end: number): number {
  const left = end - offset;
  if (left < NLA_HDRLEN) {
    throw new NetlinkDecodeError('TRUNCATED_ATTRIBUTE', offset, `${left} bytes left, too few for an attribute header`);
  }
  const length = readU16Host(bytes, offset);
  if (length < NLA_HDRLEN) {
    throw new NetlinkDecodeError('BAD_ATTRIBUTE_HEADER', offset, `attribute length ${length} is below 4`);
  }
  if (length > left) {
    const type = readU16Host(bytes, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
    throw new NetlinkDecodeError(
      'ATTRIBUTE_OVERRUN',
      offset,
      `attribute of type ${type} and length ${length} runs past the ${left} bytes left`,
    );
  }
  return length;
}

/**
 * Calls `visit(type, valueOffset, valueLength)` for each attribute (`struct nlattr`) in
 * `view[start, end)`:
 *
 * ```text
 *  0       2       4
 * +-------+-------+----------------------+---------+
 * | len   | type  | value (len - 4)      | padding |
 * +-------+-------+----------------------+---------+
 * ```
 *
 * `type` has the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits removed. Offsets are relative to
 * the view. Throws {@link NetlinkDecodeError} on 1 to 3 stray bytes (`TRUNCATED_ATTRIBUTE`), a
 * length below 4 (`BAD_ATTRIBUTE_HEADER`) or past `end` (`ATTRIBUTE_OVERRUN`), after visiting
 * the attributes before the bad one.
 */
export function forEachAttribute(
  view: DataView,
  start: number,
  end: number,
  visit: (type: number, valueOffset: number, valueLength: number) => void,
): void {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let offset = start;
  while (offset < end) {
    const length = checkedAttributeLength(bytes, offset, end);
    visit(view.getUint16(offset + NLA_TYPE_AT, HOST_IS_LITTLE_ENDIAN) & NLA_TYPE_MASK, offset + NLA_HDRLEN, length - NLA_HDRLEN);
    offset += align4(length);
  }
}

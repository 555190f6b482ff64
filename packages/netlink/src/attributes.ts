import { NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, align4 } from './wire.js';

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
 * the view. Throws {@link NetlinkDecodeError} on a length below 4 (`BAD_ATTRIBUTE_LENGTH`), past
 * `end` (`ATTRIBUTE_OVERRUN`) or 1 to 3 stray bytes at the end (`TRUNCATED_ATTRIBUTE`).
 */
export function forEachAttribute(
  view: DataView,
  start: number,
  end: number,
  visit: (type: number, valueOffset: number, valueLength: number) => void,
): void {
  let offset = start;
  while (offset < end) {
    if (end - offset < NLA_HDRLEN) {
      throw new NetlinkDecodeError(
        'TRUNCATED_ATTRIBUTE',
        offset,
        `${end - offset} bytes left, too few for an attribute header`,
      );
    }
    const length = view.getUint16(offset, HOST_IS_LITTLE_ENDIAN);
    const type = view.getUint16(offset + 2, HOST_IS_LITTLE_ENDIAN) & NLA_TYPE_MASK;
    if (length < NLA_HDRLEN) {
      throw new NetlinkDecodeError('BAD_ATTRIBUTE_LENGTH', offset, `attribute length ${length} is below 4`);
    }
    if (length > end - offset) {
      throw new NetlinkDecodeError(
        'ATTRIBUTE_OVERRUN',
        offset,
        `attribute of type ${type} and length ${length} runs past the ${end - offset} bytes left`,
      );
    }
    visit(type, offset + NLA_HDRLEN, length - NLA_HDRLEN);
    offset = Math.min(offset + align4(length), end);
  }
}

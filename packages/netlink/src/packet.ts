import {
  NFGENMSG_LEN,
  NFQA_CAP_LEN,
  NFQA_CT,
  NFQA_CT_INFO,
  NFQA_EXP,
  NFQA_GID,
  NFQA_HWADDR,
  NFQA_IFINDEX_INDEV,
  NFQA_IFINDEX_OUTDEV,
  NFQA_IFINDEX_PHYSINDEV,
  NFQA_IFINDEX_PHYSOUTDEV,
  NFQA_L2HDR,
  NFQA_MARK,
  NFQA_MAX,
  NFQA_PACKET_HDR,
  NFQA_PAYLOAD,
  NFQA_PRIORITY,
  NFQA_SECCTX,
  NFQA_SKB_INFO,
  NFQA_TIMESTAMP,
  NFQA_UID,
  NFQA_VLAN,
  NFQA_VLAN_PROTO,
  NFQA_VLAN_TCI,
  NFQNL_MSG_PACKET,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG_HDRLEN,
  nfqMessageType,
} from './constants.js';
import { checkedAttributeLength } from './attributes.js';
import { NetlinkDecodeError } from './errors.js';
import { align4, readU16Big, readU16Host, readU32Big, readU32Host } from './wire.js';
import { NFGEN_RES_ID_AT, NLA_TYPE_AT, NLMSG_TYPE_AT, PACKET_HDR_HOOK_AT, PACKET_HDR_HW_PROTOCOL_AT, PACKET_HDR_ID_AT } from './layout.js';

/** Offset of the first attribute in an nfnetlink message: nlmsghdr (16) + nfgenmsg (4). */
const ATTRIBUTES_OFFSET = NLMSG_HDRLEN + NFGENMSG_LEN;
/** `nlmsg_type` of NFQNL_MSG_PACKET. */
const PACKET_MESSAGE_TYPE = nfqMessageType(NFQNL_MSG_PACKET);
/** Smallest value length of NFQA_PACKET_HDR: be32 packet_id, be16 hw_protocol, u8 hook (packed). */
const PACKET_HDR_MIN_LENGTH = 7;
/** Value length of NFQA_HWADDR: be16 hw_addrlen, u16 pad, u8 hw_addr[8]. */
const HWADDR_LENGTH = 12;
/** Capacity of the hw_addr field of NFQA_HWADDR; a larger hw_addrlen is read as this. */
const HWADDR_MAX_ADDRESS_LENGTH = 8;
/** Value length of NFQA_VLAN_PROTO and NFQA_VLAN_TCI (be16). */
const VLAN_FIELD_LENGTH = 2;

// What the attribute scan checks for each type up to NFQA_MAX: a value >= 0 is the exact value
// length; the negative values below name the other rules.
/** Any value length (NFQA_PAYLOAD, NFQA_CT, NFQA_EXP, NFQA_SECCTX, NFQA_L2HDR). */
const ANY_LENGTH = -1;
/** Not an attribute of a packet message: listed in `unknownAttributes` (type 0, NFQA_VERDICT_HDR). */
const UNKNOWN = -2;
/** NFQA_PACKET_HDR: at least 7 bytes. */
const PACKET_HDR_RULE = -3;
/** NFQA_VLAN: a nest whose NFQA_VLAN_PROTO and NFQA_VLAN_TCI are 2 bytes each. */
const VLAN_RULE = -4;

/** The rule of each attribute type 0..NFQA_MAX; types above NFQA_MAX are unknown. */
const LENGTH_RULES: Int8Array = (() => {
  const rules = new Int8Array(NFQA_MAX + 1).fill(ANY_LENGTH);
  rules[0] = UNKNOWN;
  rules[2] = UNKNOWN; // NFQA_VERDICT_HDR: user space to kernel only
  rules[NFQA_PACKET_HDR] = PACKET_HDR_RULE;
  rules[NFQA_VLAN] = VLAN_RULE;
  rules[NFQA_TIMESTAMP] = 16;
  rules[NFQA_HWADDR] = HWADDR_LENGTH;
  for (const type of [
    NFQA_MARK,
    NFQA_IFINDEX_INDEV,
    NFQA_IFINDEX_OUTDEV,
    NFQA_IFINDEX_PHYSINDEV,
    NFQA_IFINDEX_PHYSOUTDEV,
    NFQA_CT_INFO,
    NFQA_CAP_LEN,
    NFQA_SKB_INFO,
    NFQA_UID,
    NFQA_GID,
    NFQA_PRIORITY,
  ]) {
    rules[type] = 4;
  }
  return rules;
})();


const textDecoder = new TextDecoder();
const NO_UNKNOWN_ATTRIBUTES: readonly UnknownAttribute[] = Object.freeze([]);

/** When the kernel took the packet (NFQA_TIMESTAMP), as seconds and microseconds since the epoch. */
export interface PacketTimestamp {
  /** Whole seconds since 1970-01-01 UTC. */
  readonly sec: number;
  /** Microseconds within the second. */
  readonly usec: number;
}

/** The VLAN tag of a packet (NFQA_VLAN); a key is absent when the kernel did not send it. */
export interface PacketVlan {
  /** VLAN protocol (TPID), e.g. 0x8100 (NFQA_VLAN_PROTO). */
  readonly proto?: number;
  /** Tag control information: priority, DEI, VLAN id (NFQA_VLAN_TCI). */
  readonly tci?: number;
}

/** An attribute this package does not know in a packet message, passed through untouched. */
export interface UnknownAttribute {
  /** Attribute type, without NLA_F_NESTED / NLA_F_NET_BYTEORDER. */
  readonly type: number;
  /** Value bytes, padding excluded (a view into the message, not a copy). */
  readonly value: Uint8Array;
}

/**
 * A zero-copy view of one NFQNL_MSG_PACKET message.
 *
 * ```text
 *  0                16      17      18      20
 * +----------------+-------+-------+-------+---------------------------------+
 * | nlmsghdr       |family |version|res_id | attributes (NFQA_*) ...          |
 * | (host order)   | u8    | u8    | be16  | integers inside are big-endian   |
 * +----------------+-------+-------+-------+---------------------------------+
 * ```
 *
 * The constructor scans the attributes once, checks the size of each known one (see
 * `fixtures/README.md`) and keeps where each starts; the getters read the bytes on demand. A
 * getter answers `undefined` when the kernel did not send its attribute: absent is absent, not
 * zero. When a type appears twice, the last one wins. Types this package does not know (0,
 * NFQA_VERDICT_HDR, above NFQA_MAX) are listed by {@link unknownAttributes}. Byte getters return
 * plain `Uint8Array` views into the received buffer, never copies.
 */
export class PacketView {
  /** The buffer the message was read from (a batch, or the message alone). */
  #buffer: Uint8Array;
  /** `#buffer.buffer`, kept: reading it per getter would cost more than the rest of the getter. */
  #arrayBuffer: ArrayBufferLike;
  /** `#buffer.byteOffset`, kept for the same reason. */
  #byteOffset: number;
  /** Where the message starts in `#buffer`. */
  #start: number;
  /** The message's `nlmsg_len`. */
  readonly #length: number;
  /**
   * Offsets in `#buffer` of the attributes most packets need (0 = absent): no array is allocated
   * per view. Other attributes are found on demand by walking the (already checked) attributes.
   */
  #packetHdrAt: number;
  #markAt: number;
  #payloadAt: number;
  #skbInfoAt: number;
  #capLenAt: number;
  /** How many attributes of unknown type the message holds. */
  readonly #unknownCount: number;

  /**
   * Checks and indexes the NFQNL_MSG_PACKET message that starts at byte `start` of `buffer`
   * (which may hold more messages after it). Throws {@link NetlinkDecodeError}, with an offset
   * counted from the start of `buffer`, when the bytes are not a well-formed packet message.
   */
  constructor(buffer: Uint8Array, start?: number);
  /**
   * The same, with `buffer.buffer` and `buffer.byteOffset` given by a caller that reads many
   * messages of one buffer, so that they are read once per buffer rather than once per message.
   *
   * @internal Used by {@link decodeMessages}.
   */
  constructor(buffer: Uint8Array, start: number, arrayBuffer: ArrayBufferLike, byteOffset: number);
  constructor(
    buffer: Uint8Array,
    start = 0,
    arrayBuffer: ArrayBufferLike = buffer.buffer,
    byteOffset: number = buffer.byteOffset,
  ) {
    if (!Number.isInteger(start) || start < 0 || start > buffer.length) {
      throw new RangeError(`start ${start} is not an index of the ${buffer.length}-byte buffer`);
    }
    const available = buffer.length - start;
    if (available < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError('TRUNCATED_HEADER', start, `${available} bytes are too few for a netlink header`);
    }
    const length = readU32Host(buffer, start);
    if (length < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError('BAD_MESSAGE_LENGTH', start, `netlink message length ${length} is below 16`);
    }
    if (length > available) {
      throw new NetlinkDecodeError(
        'MESSAGE_OVERRUN',
        start,
        `netlink message length ${length} runs past the ${available} bytes left`,
      );
    }
    const type = readU16Host(buffer, start + NLMSG_TYPE_AT);
    if (type !== PACKET_MESSAGE_TYPE) {
      throw new NetlinkDecodeError(
        'UNEXPECTED_MESSAGE_TYPE',
        start + NLMSG_TYPE_AT,
        `message type 0x${type.toString(16).padStart(4, '0')} is not an nfqueue packet (0x0300)`,
      );
    }
    if (length < ATTRIBUTES_OFFSET) {
      throw new NetlinkDecodeError(
        'TRUNCATED_NFGENMSG',
        start + NLMSG_HDRLEN,
        `packet message length ${length} leaves no room for nfgenmsg`,
      );
    }
    // Only the offsets most packets need are kept, in fields: no array is allocated per view.
    let packetHdrAt = 0;
    let markAt = 0;
    let payloadAt = 0;
    let skbInfoAt = 0;
    let capLenAt = 0;

    const end = start + length;
    let unknownCount = 0;
    let offset = start + ATTRIBUTES_OFFSET;
    while (offset < end) {
      const attributeLength = checkedAttributeLength(buffer, offset, end);
      const attributeType = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
      const valueLength = attributeLength - NLA_HDRLEN;
      const rule = attributeType <= NFQA_MAX ? LENGTH_RULES[attributeType]! : UNKNOWN;
      if (rule >= 0) {
        if (valueLength !== rule) throw badLength(offset, attributeType, valueLength, `${rule}`);
      } else if (rule === UNKNOWN) {
        unknownCount++;
        offset += align4(attributeLength);
        continue;
      } else if (rule === PACKET_HDR_RULE) {
        if (valueLength < PACKET_HDR_MIN_LENGTH) {
          throw badLength(offset, attributeType, valueLength, `at least ${PACKET_HDR_MIN_LENGTH}`);
        }
      } else if (rule === VLAN_RULE) {
        checkVlanNest(buffer, offset + NLA_HDRLEN, offset + attributeLength);
      }
      if (attributeType === NFQA_PACKET_HDR) packetHdrAt = offset;
      else if (attributeType === NFQA_PAYLOAD) payloadAt = offset;
      else if (attributeType === NFQA_MARK) markAt = offset;
      else if (attributeType === NFQA_SKB_INFO) skbInfoAt = offset;
      else if (attributeType === NFQA_CAP_LEN) capLenAt = offset;
      offset += align4(attributeLength);
    }
    if (packetHdrAt === 0) {
      throw new NetlinkDecodeError('MISSING_ATTRIBUTE', start + ATTRIBUTES_OFFSET, 'packet message has no NFQA_PACKET_HDR');
    }
    this.#buffer = buffer;
    this.#arrayBuffer = arrayBuffer;
    this.#byteOffset = byteOffset;
    this.#start = start;
    this.#length = length;
    this.#packetHdrAt = packetHdrAt;
    this.#markAt = markAt;
    this.#payloadAt = payloadAt;
    this.#skbInfoAt = skbInfoAt;
    this.#capLenAt = capLenAt;
    this.#unknownCount = unknownCount;
  }

  /**
   * Copies the message to `target` at byte `at` (4-aligned, room for {@link bytes}) and reads it
   * there from now on, so that the buffer it was read from may be reused. Byte views handed out
   * before still show the old buffer.
   *
   * @internal Used by @nfq/nfqueue for packets held past the reuse of their receive memory.
   */
  relocate(target: Uint8Array, at: number): void {
    const length = this.#length;
    target.set(new Uint8Array(this.#arrayBuffer, this.#byteOffset + this.#start, length), at);
    const shift = at - this.#start;
    this.#buffer = target;
    this.#arrayBuffer = target.buffer;
    this.#byteOffset = target.byteOffset;
    this.#start = at;
    this.#packetHdrAt += shift;
    if (this.#markAt !== 0) this.#markAt += shift;
    if (this.#payloadAt !== 0) this.#payloadAt += shift;
    if (this.#skbInfoAt !== 0) this.#skbInfoAt += shift;
    if (this.#capLenAt !== 0) this.#capLenAt += shift;
  }

  /** The message's length in bytes (`nlmsg_len`), header included: {@link bytes}' length. */
  get messageLength(): number {
    return this.#length;
  }

  /** Offset of the header of attribute `type` (0..NFQA_MAX) in the buffer; 0 when absent. */
  #at(type: number): number {
    switch (type) {
      case NFQA_PACKET_HDR:
        return this.#packetHdrAt;
      case NFQA_MARK:
        return this.#markAt;
      case NFQA_PAYLOAD:
        return this.#payloadAt;
      case NFQA_SKB_INFO:
        return this.#skbInfoAt;
      case NFQA_CAP_LEN:
        return this.#capLenAt;
    }
    if (type > NFQA_MAX || LENGTH_RULES[type] === UNKNOWN) return 0; // listed by unknownAttributes
    // The constructor checked every attribute header, so this walk stays in bounds; the last
    // attribute of the type wins, as in the constructor.
    const buffer = this.#buffer;
    const end = this.#start + this.#length;
    let found = 0;
    for (let offset = this.#start + ATTRIBUTES_OFFSET; offset < end; offset += align4(readU16Host(buffer, offset))) {
      if ((readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK) === type) found = offset;
    }
    return found;
  }

  /** Value bytes of the attribute whose header is at `at` (non-zero). */
  #valueAt(at: number): Uint8Array {
    const length = readU16Host(this.#buffer, at) - NLA_HDRLEN;
    return new Uint8Array(this.#arrayBuffer, this.#byteOffset + at + NLA_HDRLEN, length);
  }

  /** The big-endian u32 value of attribute `type`, or undefined when absent. */
  #u32(type: number): number | undefined {
    const at = this.#at(type);
    return at === 0 ? undefined : readU32Big(this.#buffer, at + NLA_HDRLEN);
  }

  /** The message's bytes, header included (a view into the received buffer, not a copy). */
  get bytes(): Uint8Array {
    return new Uint8Array(this.#arrayBuffer, this.#byteOffset + this.#start, this.#length);
  }

  /** True when the message holds attribute `type` (an NFQA_* value this package knows). */
  has(type: number): boolean {
    return Number.isInteger(type) && type >= 0 && type <= NFQA_MAX && this.#at(type) !== 0;
  }

  /**
   * The value bytes of attribute `type` (an NFQA_* value this package knows; the last one when
   * sent twice), or undefined when absent. Unknown types: see {@link unknownAttributes}.
   */
  attribute(type: number): Uint8Array | undefined {
    if (!this.has(type)) return undefined;
    return this.#valueAt(this.#at(type));
  }

  /** Packet id, to be named in the verdict (NFQA_PACKET_HDR). */
  get id(): number {
    return readU32Big(this.#buffer, this.#packetHdrAt + NLA_HDRLEN + PACKET_HDR_ID_AT);
  }

  /** Link-layer protocol (EtherType), e.g. 0x0800 for IPv4 (NFQA_PACKET_HDR). */
  get hwProtocol(): number {
    return readU16Big(this.#buffer, this.#packetHdrAt + NLA_HDRLEN + PACKET_HDR_HW_PROTOCOL_AT);
  }

  /** Netfilter hook the packet was queued from, e.g. 3 for NF_INET_LOCAL_OUT (NFQA_PACKET_HDR). */
  get hook(): number {
    return this.#buffer[this.#packetHdrAt + NLA_HDRLEN + PACKET_HDR_HOOK_AT]!;
  }

  /** Protocol family of the hook (nfgenmsg.family), e.g. 2 for NFPROTO_IPV4. */
  get family(): number {
    return this.#buffer[this.#start + NLMSG_HDRLEN]!;
  }

  /** Queue number the packet came from (nfgenmsg.res_id). */
  get queueNum(): number {
    return readU16Big(this.#buffer, this.#start + NFGEN_RES_ID_AT);
  }

  /** Packet mark (NFQA_MARK); undefined when the kernel did not send one (mark 0 is not sent). */
  get mark(): number | undefined {
    return this.#u32(NFQA_MARK);
  }

  /** When the packet was received (NFQA_TIMESTAMP); absent for locally generated packets. */
  get timestamp(): PacketTimestamp | undefined {
    const at = this.#at(NFQA_TIMESTAMP);
    if (at === 0) return undefined;
    const buffer = this.#buffer;
    const value = at + NLA_HDRLEN;
    return {
      sec: readU32Big(buffer, value) * 2 ** 32 + readU32Big(buffer, value + 4),
      usec: readU32Big(buffer, value + 8) * 2 ** 32 + readU32Big(buffer, value + 12),
    };
  }

  /** Interface index of the input device (NFQA_IFINDEX_INDEV). */
  get indev(): number | undefined {
    return this.#u32(NFQA_IFINDEX_INDEV);
  }

  /** Interface index of the output device (NFQA_IFINDEX_OUTDEV). */
  get outdev(): number | undefined {
    return this.#u32(NFQA_IFINDEX_OUTDEV);
  }

  /** Interface index of the physical input device, a bridge port (NFQA_IFINDEX_PHYSINDEV). */
  get physindev(): number | undefined {
    return this.#u32(NFQA_IFINDEX_PHYSINDEV);
  }

  /** Interface index of the physical output device, a bridge port (NFQA_IFINDEX_PHYSOUTDEV). */
  get physoutdev(): number | undefined {
    return this.#u32(NFQA_IFINDEX_PHYSOUTDEV);
  }

  /** Source hardware address, `hw_addrlen` bytes long, at most 8 (NFQA_HWADDR). */
  get hwAddr(): Uint8Array | undefined {
    const at = this.#at(NFQA_HWADDR);
    if (at === 0) return undefined;
    const buffer = this.#buffer;
    const addressLength = Math.min(readU16Big(buffer, at + NLA_HDRLEN), HWADDR_MAX_ADDRESS_LENGTH);
    return new Uint8Array(this.#arrayBuffer, this.#byteOffset + at + NLA_HDRLEN + 4, addressLength);
  }

  /** The packet from its network header on, possibly cut to the copy range (NFQA_PAYLOAD; no copy). */
  get payload(): Uint8Array | undefined {
    const at = this.#payloadAt;
    return at === 0 ? undefined : this.#valueAt(at);
  }

  /** Conntrack attributes of the packet's connection, raw (NFQA_CT, nested CTA_*). */
  get ct(): Uint8Array | undefined {
    return this.attribute(NFQA_CT);
  }

  /** Conntrack state of the packet, an IP_CT_* value (NFQA_CT_INFO). */
  get ctInfo(): number | undefined {
    return this.#u32(NFQA_CT_INFO);
  }

  /** Length of the whole packet when the payload was cut to the copy range (NFQA_CAP_LEN). */
  get capLen(): number | undefined {
    return this.#u32(NFQA_CAP_LEN);
  }

  /** NFQA_SKB_* bits (NFQA_SKB_INFO): GSO, checksum not ready, checksum not verified. */
  get skbInfo(): number | undefined {
    return this.#u32(NFQA_SKB_INFO);
  }

  /** Conntrack expectation, raw (NFQA_EXP, nested). */
  get exp(): Uint8Array | undefined {
    return this.attribute(NFQA_EXP);
  }

  /** User id of the local socket that owns the packet (NFQA_UID; needs the UID_GID flag). */
  get uid(): number | undefined {
    return this.#u32(NFQA_UID);
  }

  /** Group id of the local socket that owns the packet (NFQA_GID; needs the UID_GID flag). */
  get gid(): number | undefined {
    return this.#u32(NFQA_GID);
  }

  /** Security context bytes without the trailing NUL (NFQA_SECCTX; needs the SECCTX flag). */
  get secctxBytes(): Uint8Array | undefined {
    const value = this.attribute(NFQA_SECCTX);
    if (value === undefined) return undefined;
    return value.length > 0 && value[value.length - 1] === 0 ? value.subarray(0, value.length - 1) : value;
  }

  /** Security context as text, e.g. 'system_u:object_r:...' (NFQA_SECCTX; needs the SECCTX flag). */
  get secctx(): string | undefined {
    const bytes = this.secctxBytes;
    return bytes === undefined ? undefined : textDecoder.decode(bytes);
  }

  /** VLAN tag (NFQA_VLAN); each of its keys only when the kernel sent it. */
  get vlan(): PacketVlan | undefined {
    const at = this.#at(NFQA_VLAN);
    if (at === 0) return undefined;
    const buffer = this.#buffer;
    const vlan: { proto?: number; tci?: number } = {};
    const end = at + readU16Host(buffer, at);
    for (let offset = at + NLA_HDRLEN; offset < end; ) {
      const length = readU16Host(buffer, offset); // checked by the constructor
      const type = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
      if (type === NFQA_VLAN_PROTO) vlan.proto = readU16Big(buffer, offset + NLA_HDRLEN);
      else if (type === NFQA_VLAN_TCI) vlan.tci = readU16Big(buffer, offset + NLA_HDRLEN);
      offset += align4(length);
    }
    return vlan;
  }

  /** Link-layer header bytes (NFQA_L2HDR). */
  get l2Header(): Uint8Array | undefined {
    return this.attribute(NFQA_L2HDR);
  }

  /** skb->priority (NFQA_PRIORITY). */
  get priority(): number | undefined {
    return this.#u32(NFQA_PRIORITY);
  }

  /**
   * Attributes this package does not know (type 0, NFQA_VERDICT_HDR, types above NFQA_MAX), in
   * message order; empty when there are none. A new array on each call.
   */
  get unknownAttributes(): readonly UnknownAttribute[] {
    if (this.#unknownCount === 0) return NO_UNKNOWN_ATTRIBUTES;
    const buffer = this.#buffer;
    const unknown: UnknownAttribute[] = [];
    const end = this.#start + this.#length;
    for (let offset = this.#start + ATTRIBUTES_OFFSET; offset < end; ) {
      const length = readU16Host(buffer, offset); // checked by the constructor
      const type = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
      if (type > NFQA_MAX || LENGTH_RULES[type] === UNKNOWN) unknown.push({ type, value: this.#valueAt(offset) });
      offset += align4(length);
    }
    return unknown;
  }
}

function badLength(offset: number, type: number, valueLength: number, expected: string): NetlinkDecodeError {
  return new NetlinkDecodeError(
    'BAD_ATTRIBUTE_LENGTH',
    offset,
    `attribute of type ${type} has ${valueLength} value bytes, expected ${expected}`,
  );
}

/** Checks the attributes nested in NFQA_VLAN, in `buffer[start, end)`. */
function checkVlanNest(buffer: Uint8Array, start: number, end: number): void {
  for (let offset = start; offset < end; ) {
    const length = checkedAttributeLength(buffer, offset, end);
    const type = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
    if ((type === NFQA_VLAN_PROTO || type === NFQA_VLAN_TCI) && length - NLA_HDRLEN !== VLAN_FIELD_LENGTH) {
      throw badLength(offset, type, length - NLA_HDRLEN, `${VLAN_FIELD_LENGTH}`);
    }
    offset += align4(length);
  }
}

/**
 * The packet id of an NFQNL_MSG_PACKET message cut by the receiver, read from its first
 * NFQA_PACKET_HDR with at least 4 value bytes among the attributes before any malformed one; -1
 * when there is none. The message is `buffer[start, start + length)`, with `length` >= 16.
 *
 * @internal Used by {@link decodeMessages} for messages flagged NLM_F_NFQ_CUT_BY_RECEIVER.
 */
export function packetIdOfCutMessage(buffer: Uint8Array, start: number, length: number): number {
  if (length < ATTRIBUTES_OFFSET) return -1;
  const end = start + length;
  for (let offset = start + ATTRIBUTES_OFFSET; end - offset >= NLA_HDRLEN; ) {
    const attributeLength = readU16Host(buffer, offset);
    if (attributeLength < NLA_HDRLEN || attributeLength > end - offset) return -1;
    const type = readU16Host(buffer, offset + NLA_TYPE_AT) & NLA_TYPE_MASK;
    if (type === NFQA_PACKET_HDR && attributeLength - NLA_HDRLEN >= 4) return readU32Big(buffer, offset + NLA_HDRLEN);
    offset += align4(attributeLength);
  }
  return -1;
}

/**
 * Checks and indexes one NFQNL_MSG_PACKET message (`message` may hold bytes after it, which are
 * ignored); throws {@link NetlinkDecodeError} if malformed, with offsets counted from the start of
 * `message`. The same as `new PacketView(message)`.
 */
export function parsePacket(message: Uint8Array): PacketView {
  return new PacketView(message, 0);
}

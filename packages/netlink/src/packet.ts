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
  NFQA_VERDICT_HDR,
  NFQA_VLAN,
  NFQA_VLAN_PROTO,
  NFQA_VLAN_TCI,
  NFQNL_MSG_PACKET,
  NLMSG_HDRLEN,
  nfqMessageType,
} from './constants.js';
import { forEachAttribute } from './attributes.js';
import { NetlinkDecodeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, viewOf } from './wire.js';

/** Offset of the first attribute in an nfnetlink message: nlmsghdr (16) + nfgenmsg (4). */
const ATTRIBUTES_OFFSET = NLMSG_HDRLEN + NFGENMSG_LEN;
/** Value length of NFQA_PACKET_HDR: be32 packet_id, be16 hw_protocol, u8 hook (packed). */
const PACKET_HDR_LENGTH = 7;
/** Value length of NFQA_HWADDR: be16 hw_addrlen, u16 pad, u8 hw_addr[8]. */
const HWADDR_LENGTH = 12;
/** Capacity of the hw_addr field of NFQA_HWADDR. */
const HWADDR_MAX_ADDRESS_LENGTH = 8;

/** Exact value length of each fixed-size attribute type (-1: any length). */
const EXACT_VALUE_LENGTH: Int8Array = (() => {
  const lengths = new Int8Array(NFQA_MAX + 1).fill(-1);
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
    lengths[type] = 4;
  }
  lengths[NFQA_VERDICT_HDR] = 8;
  lengths[NFQA_TIMESTAMP] = 16;
  lengths[NFQA_HWADDR] = HWADDR_LENGTH;
  return lengths;
})();

const textDecoder = new TextDecoder();

/** When the kernel took the packet (NFQA_TIMESTAMP), as seconds and microseconds since the epoch. */
export interface PacketTimestamp {
  /** Whole seconds since 1970-01-01 UTC. */
  readonly sec: number;
  /** Microseconds within the second. */
  readonly usec: number;
}

/** The VLAN tag of a packet (NFQA_VLAN). */
export interface PacketVlan {
  /** VLAN protocol (TPID), e.g. 0x8100; undefined when the kernel did not send it. */
  readonly proto: number | undefined;
  /** Tag control information (priority, DEI, VLAN id); undefined when the kernel did not send it. */
  readonly tci: number | undefined;
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
 * The constructor scans the attributes once, checks the length of each fixed-size one and keeps
 * their offsets; the getters read the bytes on demand. A getter answers `undefined` when the
 * kernel did not send its attribute: absent is absent, not zero. Unknown attributes are skipped.
 */
export class PacketView {
  /** The message's bytes (a view into the received batch, not a copy). */
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  /** For attribute type t: [2t] value offset in `bytes` (-1 when absent), [2t + 1] value length. */
  readonly #attributes: Int32Array;
  readonly #vlan: PacketVlan | undefined;

  /** Checks and indexes one NFQNL_MSG_PACKET message; throws {@link NetlinkDecodeError} if malformed. */
  constructor(message: Uint8Array) {
    if (message.length < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError('TRUNCATED_HEADER', 0, `${message.length} bytes are too few for a netlink header`);
    }
    const view = viewOf(message);
    const length = view.getUint32(0, HOST_IS_LITTLE_ENDIAN);
    if (length < ATTRIBUTES_OFFSET) {
      throw new NetlinkDecodeError('BAD_MESSAGE_LENGTH', 0, `packet message length ${length} is below 20`);
    }
    if (length > message.length) {
      throw new NetlinkDecodeError(
        'MESSAGE_OVERRUN',
        0,
        `packet message length ${length} runs past the ${message.length} bytes given`,
      );
    }
    const type = view.getUint16(4, HOST_IS_LITTLE_ENDIAN);
    if (type !== nfqMessageType(NFQNL_MSG_PACKET)) {
      throw new NetlinkDecodeError(
        'UNEXPECTED_MESSAGE_TYPE',
        4,
        `message type 0x${type.toString(16)} is not an nfqueue packet (0x0300)`,
      );
    }
    this.bytes = message.subarray(0, length);
    this.#view = view;
    const attributes = new Int32Array(2 * (NFQA_MAX + 1)).fill(-1);
    forEachAttribute(view, ATTRIBUTES_OFFSET, length, (attributeType, valueOffset, valueLength) => {
      if (attributeType > NFQA_MAX) return;
      const exact = EXACT_VALUE_LENGTH[attributeType]!;
      const tooShortHeader = attributeType === NFQA_PACKET_HDR && valueLength < PACKET_HDR_LENGTH;
      if ((exact >= 0 && valueLength !== exact) || tooShortHeader) {
        throw new NetlinkDecodeError(
          'BAD_ATTRIBUTE_LENGTH',
          valueOffset - 4,
          `attribute ${attributeType} has ${valueLength} value bytes, expected ${tooShortHeader ? PACKET_HDR_LENGTH : exact}`,
        );
      }
      attributes[2 * attributeType] = valueOffset;
      attributes[2 * attributeType + 1] = valueLength;
    });
    if (attributes[2 * NFQA_PACKET_HDR]! < 0) {
      throw new NetlinkDecodeError('MISSING_ATTRIBUTE', ATTRIBUTES_OFFSET, 'packet message has no NFQA_PACKET_HDR');
    }
    const hwAddrOffset = attributes[2 * NFQA_HWADDR]!;
    if (hwAddrOffset >= 0 && view.getUint16(hwAddrOffset) > HWADDR_MAX_ADDRESS_LENGTH) {
      throw new NetlinkDecodeError(
        'BAD_ATTRIBUTE_VALUE',
        hwAddrOffset,
        `hardware address length ${view.getUint16(hwAddrOffset)} exceeds ${HWADDR_MAX_ADDRESS_LENGTH}`,
      );
    }
    this.#attributes = attributes;
    this.#vlan = attributes[2 * NFQA_VLAN]! >= 0 ? this.#decodeVlan() : undefined;
  }

  #decodeVlan(): PacketVlan {
    const start = this.#attributes[2 * NFQA_VLAN]!;
    const end = start + this.#attributes[2 * NFQA_VLAN + 1]!;
    let proto: number | undefined;
    let tci: number | undefined;
    forEachAttribute(this.#view, start, end, (type, valueOffset, valueLength) => {
      if (type !== NFQA_VLAN_PROTO && type !== NFQA_VLAN_TCI) return;
      if (valueLength !== 2) {
        throw new NetlinkDecodeError('BAD_ATTRIBUTE_LENGTH', valueOffset - 4, `VLAN attribute ${type} is not 2 bytes`);
      }
      if (type === NFQA_VLAN_PROTO) proto = this.#view.getUint16(valueOffset);
      else tci = this.#view.getUint16(valueOffset);
    });
    return { proto, tci };
  }

  /** True when the kernel sent attribute `type` (an NFQA_* value). */
  has(type: number): boolean {
    return type >= 0 && type <= NFQA_MAX && this.#attributes[2 * type]! >= 0;
  }

  /** The raw value bytes of attribute `type` (an NFQA_* value), or undefined when absent. */
  attribute(type: number): Uint8Array | undefined {
    if (!this.has(type)) return undefined;
    const offset = this.#attributes[2 * type]!;
    return this.bytes.subarray(offset, offset + this.#attributes[2 * type + 1]!);
  }

  #u32(type: number): number | undefined {
    const offset = this.#attributes[2 * type]!;
    return offset < 0 ? undefined : this.#view.getUint32(offset);
  }

  /** Packet id, to be named in the verdict (NFQA_PACKET_HDR). */
  get id(): number {
    return this.#view.getUint32(this.#attributes[2 * NFQA_PACKET_HDR]!);
  }

  /** Link-layer protocol (EtherType), e.g. 0x0800 for IPv4 (NFQA_PACKET_HDR). */
  get hwProtocol(): number {
    return this.#view.getUint16(this.#attributes[2 * NFQA_PACKET_HDR]! + 4);
  }

  /** Netfilter hook the packet was queued from, e.g. 3 for NF_INET_LOCAL_OUT (NFQA_PACKET_HDR). */
  get hook(): number {
    return this.#view.getUint8(this.#attributes[2 * NFQA_PACKET_HDR]! + 6);
  }

  /** Protocol family of the hook (nfgenmsg.family), e.g. 2 for NFPROTO_IPV4. */
  get family(): number {
    return this.#view.getUint8(NLMSG_HDRLEN);
  }

  /** Queue number the packet came from (nfgenmsg.res_id). */
  get queue(): number {
    return this.#view.getUint16(NLMSG_HDRLEN + 2);
  }

  /** Packet mark (NFQA_MARK); undefined when the kernel did not send one (mark 0 is not sent). */
  get mark(): number | undefined {
    return this.#u32(NFQA_MARK);
  }

  /** When the packet was received (NFQA_TIMESTAMP); absent for locally generated packets. */
  get timestamp(): PacketTimestamp | undefined {
    const offset = this.#attributes[2 * NFQA_TIMESTAMP]!;
    if (offset < 0) return undefined;
    const view = this.#view;
    return {
      sec: view.getUint32(offset) * 2 ** 32 + view.getUint32(offset + 4),
      usec: view.getUint32(offset + 8) * 2 ** 32 + view.getUint32(offset + 12),
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

  /** Source hardware address, `hw_addrlen` bytes long (NFQA_HWADDR). */
  get hwAddr(): Uint8Array | undefined {
    const offset = this.#attributes[2 * NFQA_HWADDR]!;
    if (offset < 0) return undefined;
    const addressLength = this.#view.getUint16(offset);
    return this.bytes.subarray(offset + 4, offset + 4 + addressLength);
  }

  /** The packet from its network header on, possibly cut to the copy range (NFQA_PAYLOAD; no copy). */
  get payload(): Uint8Array | undefined {
    return this.attribute(NFQA_PAYLOAD);
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

  /** Security context of the packet, trailing NULs removed (NFQA_SECCTX; needs the SECCTX flag). */
  get secctx(): string | undefined {
    const bytes = this.attribute(NFQA_SECCTX);
    if (bytes === undefined) return undefined;
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    return textDecoder.decode(bytes.subarray(0, end));
  }

  /** VLAN tag (NFQA_VLAN). */
  get vlan(): PacketVlan | undefined {
    return this.#vlan;
  }

  /** Link-layer header bytes (NFQA_L2HDR). */
  get l2Header(): Uint8Array | undefined {
    return this.attribute(NFQA_L2HDR);
  }

  /** skb->priority (NFQA_PRIORITY). */
  get priority(): number | undefined {
    return this.#u32(NFQA_PRIORITY);
  }
}

/** Checks and indexes one NFQNL_MSG_PACKET message; throws {@link NetlinkDecodeError} if malformed. */
export function parsePacket(message: Uint8Array): PacketView {
  return new PacketView(message);
}

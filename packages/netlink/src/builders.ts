import {
  AF_UNSPEC,
  CTA_LABELS,
  CTA_LABELS_MASK,
  CTA_MARK,
  NFGENMSG_LEN,
  NFNETLINK_V0,
  NFQA_CAP_LEN,
  NFQA_CT_INFO,
  NFQA_EXP,
  NFQA_IFINDEX_PHYSINDEV,
  NFQA_IFINDEX_PHYSOUTDEV,
  NFQA_L2HDR,
  NFQA_PRIORITY,
  NFQA_SECCTX,
  NFQA_TIMESTAMP,
  NFQA_VLAN,
  NFQA_VLAN_PROTO,
  NFQA_VLAN_TCI,
  NFQA_CFG_CMD,
  NFQA_CFG_FLAGS,
  NFQA_CFG_MASK,
  NFQA_CFG_PARAMS,
  NFQA_CFG_QUEUE_MAXLEN,
  NFQA_CT,
  NFQA_GID,
  NFQA_HWADDR,
  NFQA_IFINDEX_INDEV,
  NFQA_IFINDEX_OUTDEV,
  NFQA_MARK,
  NFQA_PACKET_HDR,
  NFQA_PAYLOAD,
  NFQA_SKB_INFO,
  NFQA_UID,
  NFQA_VERDICT_HDR,
  NFQNL_MSG_CONFIG,
  NFQNL_MSG_PACKET,
  NFQNL_MSG_VERDICT,
  NFQNL_MSG_VERDICT_BATCH,
  NLA_F_NESTED,
  NLA_HDRLEN,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_REQUEST,
  nfqMessageType,
} from './constants.js';
import { NetlinkRangeError } from './errors.js';
import { HOST_IS_LITTLE_ENDIAN, align4 } from './wire.js';
import { NFGEN_FAMILY_AT, NFGEN_RES_ID_AT, NFGEN_VERSION_AT, NLA_TYPE_AT, NLMSG_FLAGS_AT, NLMSG_PID_AT, NLMSG_SEQ_AT, NLMSG_TYPE_AT, PACKET_HDR_HOOK_AT, PACKET_HDR_HW_PROTOCOL_AT, VERDICT_HDR_ID_AT, VERDICT_HDR_VERDICT_AT } from './layout.js';

/** A verdict on one packet (NFQNL_MSG_VERDICT). */
export interface VerdictOptions {
  /** Queue number the packet came from (0-65535). */
  readonly queue: number;
  /** Packet id from the packet's NFQA_PACKET_HDR. */
  readonly id: number;
  /** Verdict value: NF_ACCEPT, NF_DROP, NF_REPEAT, NF_STOP or {@link queueVerdict}(n). */
  readonly verdict: number;
  /** New packet mark (NFQA_MARK), if it should change. */
  readonly mark?: number;
  /** Replacement packet bytes from the network header on (NFQA_PAYLOAD), if it should change. */
  readonly payload?: Uint8Array;
  /** New connection mark (NFQA_CT nested CTA_MARK); needs the kernel's conntrack glue. */
  readonly connmark?: number;
  /**
   * New connection labels, 128 bits (NFQA_CT nested CTA_LABELS, 16 bytes, bit 0 the lowest bit
   * of the first byte as the kernel stores them); needs the conntrack glue and the connlabel
   * extension (the kernel makes room for labels when an iptables `-m connlabel` rule exists).
   */
  readonly connlabels?: Uint8Array;
  /** Which label bits `connlabels` sets or clears (CTA_LABELS_MASK, 16 bytes); all 128 when absent. */
  readonly connlabelsMask?: Uint8Array;
  /** Netlink sequence number (default 0). */
  readonly seq?: number;
}

/** One verdict for every pending packet with an id up to and including `id` (NFQNL_MSG_VERDICT_BATCH). */
export interface VerdictBatchOptions {
  /** Queue number (0-65535). */
  readonly queue: number;
  /** Highest packet id the verdict applies to. */
  readonly id: number;
  /** Verdict value, as in {@link VerdictOptions.verdict}. */
  readonly verdict: number;
  /** New mark for every packet of the batch, if it should change. */
  readonly mark?: number;
  /** Netlink sequence number (default 0). */
  readonly seq?: number;
}

/** A configuration request (NFQNL_MSG_CONFIG); each given part becomes one attribute. */
export interface ConfigOptions {
  /** Queue number (0-65535). */
  readonly queue: number;
  /** Netlink sequence number (default 0). */
  readonly seq?: number;
  /** Ask the kernel for an acknowledgement (NLM_F_ACK); default false. */
  readonly ack?: boolean;
  /** nfgenmsg family (default AF_UNSPEC). */
  readonly family?: number;
  /** NFQA_CFG_CMD: an NFQNL_CFG_CMD_* command and its protocol family (default AF_UNSPEC). */
  readonly command?: { readonly command: number; readonly pf?: number };
  /** NFQA_CFG_PARAMS: copy mode (NFQNL_COPY_*) and how many payload bytes to copy. */
  readonly params?: { readonly copyMode: number; readonly copyRange: number };
  /** NFQA_CFG_QUEUE_MAXLEN: the most packets that may wait in the queue. */
  readonly maxLen?: number;
  /** NFQA_CFG_FLAGS + NFQA_CFG_MASK: new values of the NFQA_CFG_F_* bits selected by `mask`. */
  readonly flags?: { readonly flags: number; readonly mask: number };
}

/** What the kernel sends for one queued packet; for fakes and tests (NFQNL_MSG_PACKET). */
export interface PacketMessageOptions {
  /** Queue number (nfgenmsg res_id). */
  readonly queue: number;
  /** Packet id. */
  readonly id: number;
  /** EtherType, e.g. 0x0800. */
  readonly hwProtocol: number;
  /** Hook number. */
  readonly hook: number;
  /** nfgenmsg family (default NFPROTO_IPV4 = 2). */
  readonly family?: number;
  /** nlmsg_flags (default 0). */
  readonly flags?: number;
  /** NFQA_IFINDEX_INDEV. */
  readonly indev?: number;
  /** NFQA_IFINDEX_PHYSINDEV. */
  readonly physindev?: number;
  /** NFQA_IFINDEX_OUTDEV. */
  readonly outdev?: number;
  /** NFQA_IFINDEX_PHYSOUTDEV. */
  readonly physoutdev?: number;
  /** NFQA_MARK. */
  readonly mark?: number;
  /** NFQA_PRIORITY. */
  readonly priority?: number;
  /** NFQA_HWADDR address bytes (at most 8). */
  readonly hwAddr?: Uint8Array;
  /** NFQA_VLAN with NFQA_VLAN_PROTO and NFQA_VLAN_TCI nested, each when given. */
  readonly vlan?: { readonly proto?: number; readonly tci?: number };
  /** NFQA_L2HDR. */
  readonly l2Header?: Uint8Array;
  /** NFQA_TIMESTAMP; both numbers must be safe integers. */
  readonly timestamp?: { readonly sec: number; readonly usec: number };
  /** NFQA_UID. */
  readonly uid?: number;
  /** NFQA_GID. */
  readonly gid?: number;
  /** NFQA_SECCTX bytes; a NUL is appended, as the kernel does. */
  readonly secctx?: Uint8Array;
  /** NFQA_CT (nested), raw value bytes. */
  readonly ct?: Uint8Array;
  /** NFQA_CT_INFO. */
  readonly ctInfo?: number;
  /** NFQA_EXP (nested), raw value bytes; the kernel never sends it, but a decoder must read it. */
  readonly exp?: Uint8Array;
  /** NFQA_CAP_LEN. */
  readonly capLen?: number;
  /** NFQA_SKB_INFO. */
  readonly skbInfo?: number;
  /** NFQA_PAYLOAD. */
  readonly payload?: Uint8Array;
  /** Netlink sequence number (default 0). */
  readonly seq?: number;
}

function checkUnsigned(name: string, value: number, bits: 8 | 16 | 32): void {
  const max = bits === 32 ? 0xffffffff : (1 << bits) - 1; // not 2 ** bits: a pow() call per field
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new NetlinkRangeError(name, `${name} must be an integer from 0 to ${max}, got ${value}`);
  }
}

/**
 * A growable buffer that netlink messages are encoded into, in the manner of libmnl:
 * `beginMessage`, attributes, `endMessage`. Headers are written in host byte order, attribute
 * values big-endian.
 */
class MessageBuffer {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(initialCapacity: number) {
    this.bytes = new Uint8Array(Math.max(64, initialCapacity));
    this.view = new DataView(this.bytes.buffer);
  }

  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  /** Writes nlmsghdr + nfgenmsg; returns the message's start for {@link endMessage}. */
  beginMessage(type: number, flags: number, seq: number, family: number, queue: number): number {
    checkUnsigned('queue', queue, 16);
    checkUnsigned('seq', seq, 32);
    this.reserve(NLMSG_HDRLEN + NFGENMSG_LEN);
    const start = this.length;
    const view = this.view;
    view.setUint32(start, 0, HOST_IS_LITTLE_ENDIAN); // nlmsg_len, set by endMessage
    view.setUint16(start + NLMSG_TYPE_AT, type, HOST_IS_LITTLE_ENDIAN);
    view.setUint16(start + NLMSG_FLAGS_AT, flags, HOST_IS_LITTLE_ENDIAN);
    view.setUint32(start + NLMSG_SEQ_AT, seq, HOST_IS_LITTLE_ENDIAN);
    view.setUint32(start + NLMSG_PID_AT, 0, HOST_IS_LITTLE_ENDIAN); // nlmsg_pid: 0, the kernel fills it
    view.setUint8(start + NFGEN_FAMILY_AT, family);
    view.setUint8(start + NFGEN_VERSION_AT, NFNETLINK_V0);
    view.setUint16(start + NFGEN_RES_ID_AT, queue); // big-endian
    this.length += NLMSG_HDRLEN + NFGENMSG_LEN;
    return start;
  }

  endMessage(start: number): void {
    this.view.setUint32(start, this.length - start, HOST_IS_LITTLE_ENDIAN);
  }

  /**
   * Starts an attribute with `valueLength` value bytes and returns the value's offset. Zeroes its
   * padding, and its value too unless the caller says it writes the whole value (`valueWritten`).
   */
  beginAttribute(type: number, valueLength: number, valueWritten = false): number {
    const total = align4(NLA_HDRLEN + valueLength);
    this.reserve(total);
    const start = this.length;
    this.view.setUint16(start, NLA_HDRLEN + valueLength, HOST_IS_LITTLE_ENDIAN);
    this.view.setUint16(start + NLA_TYPE_AT, type, HOST_IS_LITTLE_ENDIAN);
    // A loop, not fill(): fill() is a call into the runtime, slower than a few stores.
    const bytes = this.bytes;
    const end = start + total;
    for (let i = start + NLA_HDRLEN + (valueWritten ? valueLength : 0); i < end; i++) bytes[i] = 0;
    this.length += total;
    return start + NLA_HDRLEN;
  }

  u32Attribute(type: number, name: string, value: number): void {
    checkUnsigned(name, value, 32);
    const offset = this.beginAttribute(type, 4, true); // may grow the buffer: read view after
    this.view.setUint32(offset, value);
  }

  u16Attribute(type: number, name: string, value: number): void {
    checkUnsigned(name, value, 16);
    const offset = this.beginAttribute(type, 2, true); // may grow the buffer: read view after
    this.view.setUint16(offset, value);
  }

  bytesAttribute(type: number, value: Uint8Array): void {
    if (NLA_HDRLEN + value.length > 0xffff) {
      throw new NetlinkRangeError('payload', `attribute value of ${value.length} bytes exceeds the netlink attribute limit (65531)`);
    }
    const offset = this.beginAttribute(type, value.length, true); // may grow the buffer: read bytes after
    this.bytes.set(value, offset);
  }

  /** Starts a nested attribute; returns its start for {@link endNest}. */
  beginNest(type: number): number {
    const start = this.length;
    this.beginAttribute(type | NLA_F_NESTED, 0);
    return start;
  }

  endNest(start: number): void {
    this.view.setUint16(start, this.length - start, HOST_IS_LITTLE_ENDIAN);
  }

  writeVerdict(type: number, options: VerdictOptions | VerdictBatchOptions): void {
    const start = this.beginMessage(nfqMessageType(type), NLM_F_REQUEST, options.seq ?? 0, AF_UNSPEC, options.queue);
    checkUnsigned('verdict', options.verdict, 32);
    checkUnsigned('id', options.id, 32);
    const header = this.beginAttribute(NFQA_VERDICT_HDR, 8, true);
    this.view.setUint32(header + VERDICT_HDR_VERDICT_AT, options.verdict);
    this.view.setUint32(header + VERDICT_HDR_ID_AT, options.id);
    if (options.mark !== undefined) this.u32Attribute(NFQA_MARK, 'mark', options.mark);
    if ('payload' in options && options.payload !== undefined) this.bytesAttribute(NFQA_PAYLOAD, options.payload);
    const ct = type === NFQNL_MSG_VERDICT ? (options as VerdictOptions) : undefined;
    if (ct !== undefined && (ct.connmark !== undefined || ct.connlabels !== undefined || ct.connlabelsMask !== undefined)) {
      this.conntrackAttributes(ct);
    }
    this.endMessage(start);
  }

  /** NFQA_CT with CTA_MARK and CTA_LABELS + CTA_LABELS_MASK, as the options give them. */
  conntrackAttributes(options: VerdictOptions): void {
    const { connmark, connlabels, connlabelsMask } = options;
    if (connlabels !== undefined) checkLabels('connlabels', connlabels);
    if (connlabelsMask !== undefined) {
      if (connlabels === undefined) throw new NetlinkRangeError('connlabelsMask', 'connlabelsMask goes with connlabels: it says which of their bits change');
      checkLabels('connlabelsMask', connlabelsMask);
    }
    const nest = this.beginNest(NFQA_CT);
    if (connmark !== undefined) this.u32Attribute(CTA_MARK, 'connmark', connmark);
    if (connlabels !== undefined) {
      this.bytesAttribute(CTA_LABELS, connlabels);
      this.bytesAttribute(CTA_LABELS_MASK, connlabelsMask ?? ALL_LABELS);
    }
    this.endNest(nest);
  }

  take(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Bytes of connection labels, as CTA_LABELS carries them (128 bits). */
export const CONNLABELS_LENGTH = 16;

/** A mask that changes every label bit. */
const ALL_LABELS = new Uint8Array(CONNLABELS_LENGTH).fill(0xff);

function checkLabels(field: string, labels: Uint8Array): void {
  if (!(labels instanceof Uint8Array) || labels.length !== CONNLABELS_LENGTH) {
    throw new NetlinkRangeError(field, `${field} must be ${CONNLABELS_LENGTH} bytes (128 label bits), got ${labels instanceof Uint8Array ? `${labels.length} bytes` : typeof labels}`);
  }
}

/** Upper bound of the encoded size of one verdict message. */
function verdictSize(options: VerdictOptions): number {
  return 112 + (options.payload ? align4(options.payload.length) : 0);
}

/**
 * A complete NFQNL_MSG_VERDICT message: NLM_F_REQUEST, family AF_UNSPEC, res_id = queue, then
 * NFQA_VERDICT_HDR, NFQA_MARK (if `mark`), NFQA_PAYLOAD (if `payload`) and NFQA_CT with a
 * nested CTA_MARK (if `connmark`) and CTA_LABELS + CTA_LABELS_MASK (if `connlabels`), in that order.
 */
export function buildVerdict(options: VerdictOptions): Uint8Array {
  const buffer = new MessageBuffer(verdictSize(options));
  buffer.writeVerdict(NFQNL_MSG_VERDICT, options);
  return buffer.take();
}

/** A complete NFQNL_MSG_VERDICT_BATCH message: NFQA_VERDICT_HDR (id = highest id) and NFQA_MARK (if `mark`). */
export function buildVerdictBatch(options: VerdictBatchOptions): Uint8Array {
  const buffer = new MessageBuffer(64);
  buffer.writeVerdict(NFQNL_MSG_VERDICT_BATCH, options);
  return buffer.take();
}

/**
 * A complete NFQNL_MSG_CONFIG message with, in this order, NFQA_CFG_CMD, NFQA_CFG_PARAMS,
 * NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_FLAGS and NFQA_CFG_MASK, each only when its option is given.
 */
export function buildConfig(options: ConfigOptions): Uint8Array {
  const buffer = new MessageBuffer(96);
  const flags = NLM_F_REQUEST | (options.ack ? NLM_F_ACK : 0);
  const start = buffer.beginMessage(
    nfqMessageType(NFQNL_MSG_CONFIG),
    flags,
    options.seq ?? 0,
    options.family ?? AF_UNSPEC,
    options.queue,
  );
  if (options.command) {
    checkUnsigned('command', options.command.command, 8);
    const value = buffer.beginAttribute(NFQA_CFG_CMD, 4);
    buffer.view.setUint8(value, options.command.command);
    buffer.view.setUint8(value + 1, 0); // pad
    buffer.view.setUint16(value + 2, options.command.pf ?? AF_UNSPEC);
  }
  if (options.params) {
    checkUnsigned('copyRange', options.params.copyRange, 32);
    checkUnsigned('copyMode', options.params.copyMode, 8);
    const value = buffer.beginAttribute(NFQA_CFG_PARAMS, 5);
    buffer.view.setUint32(value, options.params.copyRange);
    buffer.view.setUint8(value + 4, options.params.copyMode);
  }
  if (options.maxLen !== undefined) buffer.u32Attribute(NFQA_CFG_QUEUE_MAXLEN, 'maxLen', options.maxLen);
  if (options.flags) {
    buffer.u32Attribute(NFQA_CFG_FLAGS, 'flags', options.flags.flags);
    buffer.u32Attribute(NFQA_CFG_MASK, 'mask', options.flags.mask);
  }
  buffer.endMessage(start);
  return buffer.take();
}

/**
 * A complete NFQNL_MSG_PACKET message as the kernel would send it; for fakes and tests. The
 * attributes come in the kernel's order (`nfqnl_build_packet_message`): NFQA_PACKET_HDR, INDEV,
 * PHYSINDEV, OUTDEV, PHYSOUTDEV, MARK, PRIORITY, HWADDR, VLAN, L2HDR, TIMESTAMP, UID, GID, SECCTX,
 * CT, CT_INFO, EXP, CAP_LEN, SKB_INFO, PAYLOAD; each only when its option is given.
 */
export function buildPacketMessage(options: PacketMessageOptions): Uint8Array {
  const variableLength =
    (options.payload?.length ?? 0) +
    (options.l2Header?.length ?? 0) +
    (options.secctx?.length ?? 0) +
    (options.ct?.length ?? 0) +
    (options.exp?.length ?? 0);
  const buffer = new MessageBuffer(256 + variableLength);
  checkUnsigned('flags', options.flags ?? 0, 16);
  const start = buffer.beginMessage(
    nfqMessageType(NFQNL_MSG_PACKET),
    options.flags ?? 0,
    options.seq ?? 0,
    options.family ?? 2,
    options.queue,
  );
  checkUnsigned('id', options.id, 32);
  checkUnsigned('hwProtocol', options.hwProtocol, 16);
  checkUnsigned('hook', options.hook, 8);
  const header = buffer.beginAttribute(NFQA_PACKET_HDR, 7);
  buffer.view.setUint32(header, options.id);
  buffer.view.setUint16(header + PACKET_HDR_HW_PROTOCOL_AT, options.hwProtocol);
  buffer.view.setUint8(header + PACKET_HDR_HOOK_AT, options.hook);
  if (options.indev !== undefined) buffer.u32Attribute(NFQA_IFINDEX_INDEV, 'indev', options.indev);
  if (options.physindev !== undefined) buffer.u32Attribute(NFQA_IFINDEX_PHYSINDEV, 'physindev', options.physindev);
  if (options.outdev !== undefined) buffer.u32Attribute(NFQA_IFINDEX_OUTDEV, 'outdev', options.outdev);
  if (options.physoutdev !== undefined) buffer.u32Attribute(NFQA_IFINDEX_PHYSOUTDEV, 'physoutdev', options.physoutdev);
  if (options.mark !== undefined) buffer.u32Attribute(NFQA_MARK, 'mark', options.mark);
  if (options.priority !== undefined) buffer.u32Attribute(NFQA_PRIORITY, 'priority', options.priority);
  if (options.hwAddr !== undefined) {
    if (options.hwAddr.length > 8) throw new NetlinkRangeError('hwAddr', 'hwAddr holds at most 8 bytes');
    const value = buffer.beginAttribute(NFQA_HWADDR, 12);
    buffer.view.setUint16(value, options.hwAddr.length);
    buffer.bytes.set(options.hwAddr, value + 4);
  }
  if (options.vlan !== undefined) {
    const nest = buffer.beginNest(NFQA_VLAN);
    if (options.vlan.proto !== undefined) buffer.u16Attribute(NFQA_VLAN_PROTO, 'vlan.proto', options.vlan.proto);
    if (options.vlan.tci !== undefined) buffer.u16Attribute(NFQA_VLAN_TCI, 'vlan.tci', options.vlan.tci);
    buffer.endNest(nest);
  }
  if (options.l2Header !== undefined) buffer.bytesAttribute(NFQA_L2HDR, options.l2Header);
  if (options.timestamp !== undefined) {
    const value = buffer.beginAttribute(NFQA_TIMESTAMP, 16);
    buffer.view.setBigUint64(value, checkedU64('timestamp.sec', options.timestamp.sec));
    buffer.view.setBigUint64(value + 8, checkedU64('timestamp.usec', options.timestamp.usec));
  }
  if (options.uid !== undefined) buffer.u32Attribute(NFQA_UID, 'uid', options.uid);
  if (options.gid !== undefined) buffer.u32Attribute(NFQA_GID, 'gid', options.gid);
  if (options.secctx !== undefined) {
    const value = buffer.beginAttribute(NFQA_SECCTX, options.secctx.length + 1); // NUL zeroed already
    buffer.bytes.set(options.secctx, value);
  }
  if (options.ct !== undefined) buffer.bytesAttribute(NFQA_CT | NLA_F_NESTED, options.ct);
  if (options.ctInfo !== undefined) buffer.u32Attribute(NFQA_CT_INFO, 'ctInfo', options.ctInfo);
  if (options.exp !== undefined) buffer.bytesAttribute(NFQA_EXP | NLA_F_NESTED, options.exp);
  if (options.capLen !== undefined) buffer.u32Attribute(NFQA_CAP_LEN, 'capLen', options.capLen);
  if (options.skbInfo !== undefined) buffer.u32Attribute(NFQA_SKB_INFO, 'skbInfo', options.skbInfo);
  if (options.payload !== undefined) buffer.bytesAttribute(NFQA_PAYLOAD, options.payload);
  buffer.endMessage(start);
  return buffer.take();
}

/** `value` as a u64 for a 64-bit field; it must be a safe non-negative integer. */
function checkedU64(name: string, value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new NetlinkRangeError(name, `${name} must be a non-negative safe integer, got ${value}`);
  }
  return BigInt(value);
}

/**
 * Appends many verdict messages into one reusable, growable buffer, to be sent in one call.
 *
 * ```ts
 * const writer = new VerdictWriter();
 * writer.appendVerdict({ queue: 0, id: 1, verdict: NF_ACCEPT });
 * writer.appendVerdict({ queue: 0, id: 2, verdict: NF_DROP });
 * socket.send(writer.bytes()); // both messages, concatenated
 * writer.clear();
 * ```
 */
export class VerdictWriter {
  readonly #buffer: MessageBuffer;
  #messageCount = 0;

  /** Creates an empty writer; the buffer starts at `initialCapacity` bytes and doubles as needed. */
  constructor(initialCapacity = 4096) {
    this.#buffer = new MessageBuffer(initialCapacity);
  }

  /** Appends an NFQNL_MSG_VERDICT message, encoded as by {@link buildVerdict}. */
  appendVerdict(options: VerdictOptions): void {
    this.#append(NFQNL_MSG_VERDICT, options);
  }

  /** Appends an NFQNL_MSG_VERDICT_BATCH message, encoded as by {@link buildVerdictBatch}. */
  appendVerdictBatch(options: VerdictBatchOptions): void {
    this.#append(NFQNL_MSG_VERDICT_BATCH, options);
  }

  #append(type: number, options: VerdictOptions | VerdictBatchOptions): void {
    const buffer = this.#buffer;
    const before = buffer.length;
    try {
      buffer.writeVerdict(type, options);
    } catch (error) {
      buffer.length = before; // an invalid option leaves no half-written message behind
      throw error;
    }
    this.#messageCount++;
  }

  /** Bytes appended so far. */
  get byteLength(): number {
    return this.#buffer.length;
  }

  /** Messages appended so far. */
  get messageCount(): number {
    return this.#messageCount;
  }

  /**
   * The writer's whole buffer, whose first {@link byteLength} bytes are the appended messages:
   * what {@link bytes} views, without making a view (a new buffer once the writer grows).
   */
  get buffer(): Uint8Array {
    return this.#buffer.bytes;
  }

  /** The appended messages: a view into the writer's buffer, valid until the next append or clear. */
  bytes(): Uint8Array {
    return this.#buffer.bytes.subarray(0, this.#buffer.length);
  }

  /** Forgets the appended messages, keeping the buffer for reuse. */
  clear(): void {
    this.#buffer.length = 0;
    this.#messageCount = 0;
  }
}

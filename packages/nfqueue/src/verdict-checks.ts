/**
 * The one place verdicts are checked, before anything is written: the verdict value, the queue
 * number of an NF_QUEUE verdict, and a verdict's changes (mark, connmark, replacement payload).
 * Used by the Packet methods, the `Verdict` helpers and `Queue.verdictBatch`. @internal
 */
import {
  CONNLABELS_LENGTH,
  NF_ACCEPT,
  NF_DROP,
  NF_QUEUE,
  NF_REPEAT,
  NF_STOP,
  NF_VERDICT_FLAG_QUEUE_BYPASS,
  NF_VERDICT_MASK,
  NF_VERDICT_QBITS,
} from '@nfq/netlink';
import { InvalidVerdictError } from './errors.js';
import type { VerdictChanges } from './packet.js';

/** The most payload bytes that fit in one netlink attribute. */
export const MAX_PAYLOAD = 0xffff - 4;

const AF_INET = 2;
const AF_INET6 = 10;
const NFPROTO_BRIDGE = 7;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

const isU32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;

const describe = (value: unknown): string =>
  value === null ? 'null' : typeof value === 'string' ? `'${value}'` : typeof value === 'object' ? 'an object' : String(value);

/** Checks a packet id (a u32). */
export function checkPacketId(id: unknown): asserts id is number {
  if (!isU32(id)) throw new InvalidVerdictError(undefined, `the packet id must be an integer from 0 to 4294967295, got ${describe(id)}`);
}

/**
 * Checks a verdict value as nfnetlink_queue will (`verdicthdr_get`): its low byte must be
 * NF_DROP, NF_ACCEPT, NF_QUEUE, NF_REPEAT or NF_STOP (NF_STOLEN and anything above NF_STOP are
 * refused with EINVAL). An NF_QUEUE verdict carries the target queue in its upper 16 bits and
 * may carry the bypass flag; the other verdicts carry nothing else.
 */
export function checkVerdictValue(packetId: number | undefined, verdict: unknown): asserts verdict is number {
  if (!isU32(verdict)) {
    throw new InvalidVerdictError(packetId, `the verdict must be one of Verdict.Drop, Accept, Repeat, Stop or Verdict.queue(n), got ${describe(verdict)}`);
  }
  const code = verdict & NF_VERDICT_MASK;
  if (code === NF_QUEUE) {
    if ((verdict & 0xffff & ~(NF_VERDICT_MASK | NF_VERDICT_FLAG_QUEUE_BYPASS)) !== 0) {
      throw new InvalidVerdictError(packetId, `verdict 0x${verdict.toString(16)}: an NF_QUEUE verdict holds only the queue number (bits 16-31) and the bypass flag (0x8000); make it with Verdict.queue(n)`);
    }
    return;
  }
  if (code !== NF_DROP && code !== NF_ACCEPT && code !== NF_REPEAT && code !== NF_STOP) {
    throw new InvalidVerdictError(
      packetId,
      `verdict ${verdict} is not one the kernel accepts: use Verdict.Drop (0), Accept (1), Repeat (4), Stop (5) or Verdict.queue(n) (NF_STOLEN, 2, and values above 5 are refused)`,
    );
  }
  if (verdict !== code) {
    throw new InvalidVerdictError(packetId, `verdict 0x${verdict.toString(16)}: only NF_QUEUE verdicts carry bits above the low byte; use Verdict.Drop, Accept, Repeat or Stop as they are`);
  }
}

/** The NF_QUEUE verdict for `queueNum`, checked (0-65535, an integer; bypass a boolean). */
export function checkedQueueVerdict(packetId: number | undefined, queueNum: unknown, bypass: unknown = false): number {
  if (typeof queueNum !== 'number' || !Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
    throw new InvalidVerdictError(packetId, `the target queue must be an integer from 0 to 65535, got ${describe(queueNum)}`);
  }
  if (typeof bypass !== 'boolean') throw new InvalidVerdictError(packetId, `bypass must be true or false, got ${describe(bypass)}`);
  return (NF_QUEUE | (queueNum << NF_VERDICT_QBITS) | (bypass ? NF_VERDICT_FLAG_QUEUE_BYPASS : 0)) >>> 0;
}

/** Checks an options object: an object (or undefined) whose own keys are all in `known`. */
export function checkKeys(packetId: number | undefined, what: string, value: unknown, known: readonly string[]): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidVerdictError(packetId, `${what} must be an object such as { ${known[0]}: ... }, got ${Array.isArray(value) ? 'an array' : describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidVerdictError(packetId, `'${key}' is not a field of ${what} (known: ${known.join(', ')})`);
    }
  }
}

const own = (object: object, key: string): unknown => (Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined);

/** The packet a verdict with changes is for: what a replacement payload must match. */
export interface VerdictTarget {
  readonly id: number;
  /** Protocol family (2 IPv4, 10 IPv6, 7 bridge...). */
  readonly family: number;
  /** EtherType, for bridged packets. */
  readonly hwProtocol: number;
}

/**
 * Checks a verdict's changes and returns them as a plain object of own fields (or undefined for
 * none). A replacement payload must be an IP packet of the packet's family, whole: the kernel
 * drops, without a word, a packet whose replacement is not.
 */
export function checkChanges(packet: VerdictTarget, changes: unknown): VerdictChanges | undefined {
  if (changes === undefined) return undefined;
  const id = packet.id;
  checkKeys(id, 'the verdict changes', changes, ['mark', 'payload', 'connmark', 'connlabels', 'connlabelsMask']);
  const given = changes as object;
  const mark = own(given, 'mark');
  const payload = own(given, 'payload');
  const connmark = own(given, 'connmark');
  const connlabels = own(given, 'connlabels');
  const connlabelsMask = own(given, 'connlabelsMask');
  if (mark !== undefined && !isU32(mark)) throw new InvalidVerdictError(id, `mark must be an integer from 0 to 4294967295, got ${describe(mark)}`);
  if (connmark !== undefined && !isU32(connmark)) {
    throw new InvalidVerdictError(id, `connmark must be an integer from 0 to 4294967295, got ${describe(connmark)}`);
  }
  for (const [name, labels] of [['connlabels', connlabels], ['connlabelsMask', connlabelsMask]] as const) {
    if (labels !== undefined && !(labels instanceof Uint8Array && labels.length === CONNLABELS_LENGTH)) {
      const got = labels instanceof Uint8Array ? `${labels.length} bytes` : describe(labels);
      throw new InvalidVerdictError(id, `${name} must be a Uint8Array of ${CONNLABELS_LENGTH} bytes (128 label bits), got ${got}`);
    }
  }
  if (connlabelsMask !== undefined && connlabels === undefined) {
    throw new InvalidVerdictError(id, 'connlabelsMask goes with connlabels: it says which of their bits change');
  }
  if (payload !== undefined) checkPayload(packet, payload);
  return {
    mark: mark as number | undefined,
    payload: payload as Uint8Array | undefined,
    connmark: connmark as number | undefined,
    connlabels: connlabels as Uint8Array | undefined,
    connlabelsMask: connlabelsMask as Uint8Array | undefined,
  };
}

function isDetached(bytes: Uint8Array): boolean {
  if (bytes.byteLength !== 0 || bytes.buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(bytes.buffer); // throws on a detached buffer
    return false;
  } catch {
    return true;
  }
}

/** Checks a replacement payload: a Uint8Array holding a whole IP packet of the packet's family. */
function checkPayload(packet: VerdictTarget, payload: unknown): asserts payload is Uint8Array {
  const id = packet.id;
  if (!(payload instanceof Uint8Array)) {
    throw new InvalidVerdictError(id, `payload must be a Buffer or Uint8Array holding the packet from its IP header on, got ${describe(payload)}`);
  }
  if (isDetached(payload)) {
    throw new InvalidVerdictError(id, 'payload is a view of a detached ArrayBuffer (transferred or resized away): pass bytes that are still readable');
  }
  if (payload.length > MAX_PAYLOAD) {
    throw new InvalidVerdictError(id, `payload of ${payload.length} bytes is too large: at most ${MAX_PAYLOAD} bytes fit in a verdict`);
  }
  const version = packet.family === AF_INET ? 4 : packet.family === AF_INET6 ? 6 : packet.family === NFPROTO_BRIDGE
    ? packet.hwProtocol === ETH_P_IP ? 4 : packet.hwProtocol === ETH_P_IPV6 ? 6 : undefined
    : undefined;
  if (version === undefined) {
    if (payload.length === 0) throw new InvalidVerdictError(id, 'payload is empty: the kernel would drop the packet');
    return;
  }
  const bad = (why: string): never => {
    throw new InvalidVerdictError(id, `payload is not an IPv${version} packet (${why}): the kernel would drop it; pass the whole packet from its IP header on`);
  };
  const headerLength = version === 4 ? 20 : 40;
  if (payload.length < headerLength) bad(`${payload.length} bytes, shorter than the ${headerLength}-byte IPv${version} header`);
  const nibble = payload[0]! >> 4;
  if (nibble !== version) bad(`its version nibble is ${nibble}`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (version === 4) {
    const ihl = (payload[0]! & 0x0f) * 4;
    if (ihl < 20) bad(`IHL ${ihl / 4} is below 5`);
    if (ihl > payload.length) bad(`IHL says a ${ihl}-byte header, the payload has ${payload.length} bytes`);
    const totalLength = view.getUint16(2);
    if (totalLength < ihl) bad(`total length ${totalLength} is shorter than its ${ihl}-byte header`);
    if (totalLength > payload.length) bad(`total length ${totalLength} is beyond the ${payload.length} bytes given`);
  } else {
    const payloadLength = view.getUint16(4);
    if (40 + payloadLength > payload.length) bad(`payload length ${payloadLength} is beyond the ${payload.length - 40} bytes after the header`);
  }
}

/**
 * The JSON shape of decoded messages that `fixtures/README.md` defines: what the fixture test
 * compares with each fixture's `expect`, and what the property tests compare with builder input.
 */
import {
  type DecodedMessage,
  type NetlinkDecodeError,
  type NetlinkErrorMessage,
  type PacketView,
  decodeMessages,
  parsePacket,
} from '../src/index.js';

/** Lowercase hex of a byte array. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a hex string. */
export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A decoded message in the fixture's JSON shape. */
export type MessageShape = Record<string, unknown>;

/** What a decode fixture expects: the messages decoded, and the error decoding stopped on. */
export interface DecodeShape {
  messages: MessageShape[];
  error?: { code: string; offset: number };
}

/** A packet view in the fixture shape: optional keys only when the attribute is present. */
export function packetShape(packet: PacketView): MessageShape {
  const shape: MessageShape = {
    type: 'packet',
    queue: packet.queueNum,
    family: packet.family,
    id: packet.id,
    hwProtocol: packet.hwProtocol,
    hook: packet.hook,
  };
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) shape[key] = value instanceof Uint8Array ? hex(value) : value;
  };
  put('mark', packet.mark);
  put('timestamp', packet.timestamp);
  put('indev', packet.indev);
  put('outdev', packet.outdev);
  put('physindev', packet.physindev);
  put('physoutdev', packet.physoutdev);
  put('hwAddr', packet.hwAddr);
  put('payload', packet.payload);
  put('ct', packet.ct);
  put('ctInfo', packet.ctInfo);
  put('capLen', packet.capLen);
  put('skbInfo', packet.skbInfo);
  put('exp', packet.exp);
  put('uid', packet.uid);
  put('gid', packet.gid);
  put('secctx', packet.secctxBytes);
  put('vlan', packet.vlan === undefined ? undefined : { ...packet.vlan });
  put('l2Header', packet.l2Header);
  put('priority', packet.priority);
  const unknown = packet.unknownAttributes;
  if (unknown.length > 0) shape.unknown = unknown.map((attribute) => ({ type: attribute.type, hex: hex(attribute.value) }));
  return shape;
}

/** An NLMSG_ERROR message in the fixture shape. */
export function errorShape(error: NetlinkErrorMessage): MessageShape {
  const { length, type, flags, seq, portId } = error.request;
  const shape: MessageShape = { type: 'error', errno: error.errno, request: { length, type, flags, seq, portId } };
  if (error.extAckMessage !== undefined) shape.extAckMessage = error.extAckMessage;
  if (error.extAckOffset !== undefined) shape.extAckOffset = error.extAckOffset;
  return shape;
}

/** Any decoded message in the fixture shape. */
export function messageShape(message: DecodedMessage): MessageShape {
  switch (message.type) {
    case 'packet':
      return packetShape(message.packet);
    case 'packetCutByReceiver':
      return { type: 'packetCutByReceiver', queue: message.queue, id: message.id };
    case 'error':
      return errorShape(message.error);
    case 'done':
      return { type: 'done' };
    case 'other':
      return { type: 'other', messageType: message.messageType, length: message.length };
  }
}

/**
 * Decodes `bytes` as the fixture README says: a batch (message by message, stopping at the first
 * error) or one strict packet. Anything thrown other than a NetlinkDecodeError propagates.
 */
export function decodeShape(bytes: Uint8Array, as: 'batch' | 'packet'): DecodeShape {
  const messages: MessageShape[] = [];
  try {
    if (as === 'packet') {
      messages.push(packetShape(parsePacket(bytes)));
    } else {
      for (const message of decodeMessages(bytes)) messages.push(messageShape(message));
    }
  } catch (error) {
    if ((error as Error)?.name !== 'NetlinkDecodeError') throw error;
    const { code, offset } = error as NetlinkDecodeError;
    return { messages, error: { code, offset } };
  }
  return { messages };
}

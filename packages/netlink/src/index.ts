/**
 * `@nfq/netlink`: constants, zero-copy views and builders for nfnetlink_queue (NFQUEUE)
 * netlink messages. Pure TypeScript on Uint8Array: no native code, no Node-only API.
 *
 * @packageDocumentation
 */
export * from './constants.js';
export { NetlinkDecodeError, NetlinkRangeError, type NetlinkDecodeErrorCode } from './errors.js';
export { readHeader, type NetlinkHeader } from './header.js';
export {
  decodeMessages,
  forEachPacket,
  forEachPacketAt,
  iterateMessages,
  type DecodedMessage,
  type DecodedPacket,
  type DecodedPacketCutByReceiver,
  type DecodedTruncatedPacket,
  type DecodedError,
  type DecodedDone,
  type DecodedOther,
  type NetlinkMessage,
} from './messages.js';
export { forEachAttribute } from './attributes.js';
export {
  PacketView,
  parsePacket,
  type PacketTimestamp,
  type PacketVlan,
  type UnknownAttribute,
} from './packet.js';
export { parseError, errnoName, type NetlinkErrorMessage } from './error-message.js';
export {
  buildVerdict,
  buildVerdictBatch,
  buildConfig,
  buildPacketMessage,
  VerdictWriter,
  CONNLABELS_LENGTH,
  type VerdictOptions,
  type VerdictBatchOptions,
  type ConfigOptions,
  type PacketMessageOptions,
} from './builders.js';
export { hookName } from './hooks.js';
export { HOST_IS_LITTLE_ENDIAN, align4 } from './wire.js';

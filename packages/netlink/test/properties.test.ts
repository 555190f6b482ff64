/**
 * Property tests of every decoder on random and mutated bytes (fast-check).
 *
 * `npm test` runs each property a few hundred times; `npm run fuzz` runs them FUZZ_RUNS times
 * (default 1,000,000 each). FUZZ_SEED replays a run.
 */
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NLM_F_NFQ_CUT_BY_RECEIVER,
  NetlinkDecodeError,
  type NetlinkErrorMessage,
  type PacketMessageOptions,
  PacketView,
  buildPacketMessage,
  decodeMessages,
  iterateMessages,
  parseError,
  parsePacket,
} from '../src/index.js';
import { type MessageShape, fromHex, hex, messageShape, packetShape } from './shape.js';

/** Cases per property: FUZZ_RUNS, or a modest count that keeps `npm test` fast. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** Per-test timeout: generous when fuzzing for millions of cases. */
const TIMEOUT_MS = Math.max(30_000, RUNS * 2);
const PARAMETERS: fc.Parameters<unknown> = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** The wire bytes of every decode fixture: real kernel messages and hand-made odd ones, as seeds. */
const FIXTURE_SEEDS: Uint8Array[] = (() => {
  const directory = new URL('../../../fixtures/', import.meta.url);
  return readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(new URL(name, directory), 'utf8')) as { decode?: { hex: string } })
    .filter((fixture) => fixture.decode !== undefined)
    .map((fixture) => fromHex(fixture.decode!.hex));
})();

// ---------------------------------------------------------------------------------------------
// Checks that hold for any input
// ---------------------------------------------------------------------------------------------

/**
 * Fails with `message` unless `condition` holds. Used instead of `expect` on the hot path of the
 * properties, which run millions of times under `npm run fuzz`.
 */
function check(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

/** Fails unless `thrown` is a NetlinkDecodeError whose offset lies in `buffer` (the end included). */
function expectDecodeError(thrown: unknown, buffer: Uint8Array): void {
  if (!(thrown instanceof NetlinkDecodeError)) throw thrown; // shows the unexpected error itself
  check(
    Number.isInteger(thrown.offset) && thrown.offset >= 0 && thrown.offset <= buffer.length,
    () => `offset ${thrown.offset} of ${thrown.code} is outside the ${buffer.length}-byte buffer`,
  );
}

/** Fails unless `part` is a view of `buffer[start, end)` or of a part of it. */
function expectInside(part: Uint8Array, buffer: Uint8Array, start: number, end: number): void {
  check(
    part.buffer === buffer.buffer &&
      part.byteOffset >= buffer.byteOffset + start &&
      part.byteOffset + part.byteLength <= buffer.byteOffset + end,
    () => `view [${part.byteOffset}, +${part.byteLength}) is not inside [${buffer.byteOffset + start}, ${buffer.byteOffset + end})`,
  );
}

function expectUnsigned(value: number | undefined, bits: number): void {
  if (value === undefined) return;
  check(Number.isInteger(value) && value >= 0 && value < 2 ** bits, () => `${value} is not a u${bits}`);
}

/** Calls every getter of a packet view read from `buffer`; every byte getter stays in the message. */
function exercisePacket(packet: PacketView, buffer: Uint8Array): void {
  const message = packet.bytes;
  expectInside(message, buffer, 0, buffer.length);
  const start = message.byteOffset - buffer.byteOffset;
  const end = start + message.length;
  for (const bytes of [
    packet.hwAddr,
    packet.payload,
    packet.ct,
    packet.exp,
    packet.secctxBytes,
    packet.l2Header,
    ...packet.unknownAttributes.map((attribute) => attribute.value),
    ...Array.from({ length: 24 }, (_, type) => packet.attribute(type)),
  ]) {
    if (bytes !== undefined) expectInside(bytes, buffer, start, end);
  }
  check(packet.hwAddr === undefined || packet.hwAddr.length <= 8, () => 'hwAddr longer than 8 bytes');
  expectUnsigned(packet.id, 32);
  expectUnsigned(packet.hwProtocol, 16);
  expectUnsigned(packet.hook, 8);
  expectUnsigned(packet.family, 8);
  expectUnsigned(packet.queueNum, 16);
  for (const value of [
    packet.mark, packet.indev, packet.outdev, packet.physindev, packet.physoutdev, packet.ctInfo,
    packet.capLen, packet.skbInfo, packet.uid, packet.gid, packet.priority,
  ]) {
    expectUnsigned(value, 32);
  }
  const timestamp = packet.timestamp;
  if (timestamp) check(Number.isFinite(timestamp.sec) && Number.isFinite(timestamp.usec), () => 'timestamp not finite');
  const vlan = packet.vlan;
  if (vlan) {
    expectUnsigned(vlan.proto, 16);
    expectUnsigned(vlan.tci, 16);
  }
  check(typeof (packet.secctx ?? '') === 'string', () => 'secctx is not a string');
}

function exerciseError(error: NetlinkErrorMessage, buffer: Uint8Array): void {
  check(Number.isInteger(error.errno), () => `errno ${error.errno} is not an integer`);
  for (const bytes of [error.requestBytes, error.extAckCookie]) {
    if (bytes !== undefined) expectInside(bytes, buffer, 0, buffer.length);
  }
  expectUnsigned(error.extAckOffset, 32);
}

/**
 * Runs `buffer` through every decoder: only NetlinkDecodeError may be thrown, with an offset in
 * the buffer; every view must answer every getter from inside its message.
 */
function decodeEverywhere(buffer: Uint8Array): void {
  let count = 0;
  try {
    for (const message of decodeMessages(buffer)) {
      count++;
      if (message.type === 'packet') exercisePacket(message.packet, buffer);
      else if (message.type === 'error') exerciseError(message.error, buffer);
      else if (message.type === 'other') expectInside(message.bytes, buffer, 0, buffer.length);
    }
  } catch (thrown) {
    expectDecodeError(thrown, buffer);
  }
  // Every message takes at least 16 bytes: decoding ends after at most length / 16 of them.
  check(count <= Math.ceil(buffer.length / 16), () => `${count} messages in ${buffer.length} bytes`);
  try {
    for (const message of iterateMessages(buffer)) expectInside(message.bytes, buffer, 0, buffer.length);
  } catch (thrown) {
    expectDecodeError(thrown, buffer);
  }
  try {
    exercisePacket(parsePacket(buffer), buffer);
  } catch (thrown) {
    expectDecodeError(thrown, buffer);
  }
  try {
    exerciseError(parseError(buffer), buffer);
  } catch (thrown) {
    expectDecodeError(thrown, buffer);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const someBytes = (maxLength: number) => fc.uint8Array({ maxLength });

/** Any packet message the builder can make: every attribute optional, any values. */
const packetOptions: fc.Arbitrary<PacketMessageOptions> = fc.record(
  {
    queue: u16,
    id: u32,
    hwProtocol: u16,
    hook: u8,
    family: u8,
    // Mostly 0: with NLM_F_NFQ_CUT_BY_RECEIVER (half of all u16) the message decodes as packetCutByReceiver.
    flags: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: u16 }),
    indev: u32,
    physindev: u32,
    outdev: u32,
    physoutdev: u32,
    mark: u32,
    priority: u32,
    hwAddr: someBytes(8),
    vlan: fc.record({ proto: u16, tci: u16 }, { requiredKeys: [] }),
    l2Header: someBytes(24),
    timestamp: fc.record({ sec: fc.maxSafeNat(), usec: fc.maxSafeNat() }),
    uid: u32,
    gid: u32,
    secctx: someBytes(40),
    ct: someBytes(40),
    ctInfo: u32,
    exp: someBytes(24),
    capLen: u32,
    skbInfo: u32,
    payload: someBytes(200),
    seq: u32,
  },
  { requiredKeys: ['queue', 'id', 'hwProtocol', 'hook'] },
);

/** What decoding a message built from `options` must give, in the fixture shape. */
function expectedShape(options: PacketMessageOptions): MessageShape {
  if (((options.flags ?? 0) & NLM_F_NFQ_CUT_BY_RECEIVER) !== 0) {
    return { type: 'packetCutByReceiver', queue: options.queue, id: options.id };
  }
  const shape: MessageShape = {
    type: 'packet',
    queue: options.queue,
    family: options.family ?? 2,
    id: options.id,
    hwProtocol: options.hwProtocol,
    hook: options.hook,
  };
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) shape[key] = value instanceof Uint8Array ? hex(value) : value;
  };
  put('mark', options.mark);
  put('timestamp', options.timestamp && { ...options.timestamp });
  put('indev', options.indev);
  put('outdev', options.outdev);
  put('physindev', options.physindev);
  put('physoutdev', options.physoutdev);
  put('hwAddr', options.hwAddr);
  put('payload', options.payload);
  put('ct', options.ct);
  put('ctInfo', options.ctInfo);
  put('capLen', options.capLen);
  put('skbInfo', options.skbInfo);
  put('exp', options.exp);
  put('uid', options.uid);
  put('gid', options.gid);
  put('secctx', options.secctx);
  put('vlan', options.vlan && { ...options.vlan });
  put('l2Header', options.l2Header);
  put('priority', options.priority);
  return shape;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** One change to a message: the kinds of damage a decoder must survive. */
type Mutation =
  | { kind: 'flipBit'; at: number; bit: number }
  | { kind: 'setByte'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'tamperLength'; at: number; delta: number; wide: boolean }
  | { kind: 'splice'; at: number; deleteCount: number; insert: Uint8Array }
  | { kind: 'duplicate'; from: number; length: number; at: number };

const position = fc.nat({ max: 1 << 16 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flipBit' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('setByte' as const), at: position, value: u8 }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({
    kind: fc.constant('tamperLength' as const),
    at: position,
    delta: fc.oneof(fc.integer({ min: -8, max: 8 }), fc.integer({ min: -0x10000, max: 0x10000 })),
    wide: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: position,
    deleteCount: fc.nat({ max: 24 }),
    insert: someBytes(24),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), from: position, length: fc.nat({ max: 64 }), at: position }),
);

/** Applies `change` to a copy of `bytes`; positions wrap around the current length. */
function mutate(bytes: Uint8Array, change: Mutation): Uint8Array {
  const length = bytes.length;
  if (length === 0) return bytes;
  const copy = Uint8Array.from(bytes);
  switch (change.kind) {
    case 'flipBit':
      copy[change.at % length] ^= 1 << change.bit;
      return copy;
    case 'setByte':
      copy[change.at % length] = change.value;
      return copy;
    case 'truncate':
      return copy.subarray(0, change.at % (length + 1));
    case 'tamperLength': {
      // Length fields (nlmsg_len, nla_len) sit at offsets that are multiples of 4.
      const at = (change.at % length) & ~3;
      const view = new DataView(copy.buffer);
      if (change.wide && at + 4 <= length) {
        view.setUint32(at, (view.getUint32(at, true) + change.delta) >>> 0, true);
      } else if (at + 2 <= length) {
        view.setUint16(at, (view.getUint16(at, true) + change.delta) & 0xffff, true);
      }
      return copy;
    }
    case 'splice': {
      const at = change.at % (length + 1);
      return concat([copy.subarray(0, at), change.insert, copy.subarray(Math.min(length, at + change.deleteCount))]);
    }
    case 'duplicate': {
      const from = change.from % length;
      const at = change.at % (length + 1);
      const segment = copy.slice(from, Math.min(length, from + change.length));
      return concat([copy.subarray(0, at), segment, copy.subarray(at)]);
    }
  }
}

/** A message or batch to damage: built from random options, or the bytes of a fixture. */
const seedBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  packetOptions.map((options) => buildPacketMessage(options)),
  fc.array(packetOptions, { minLength: 2, maxLength: 4 }).map((all) => concat(all.map(buildPacketMessage))),
  fc.constantFrom(...FIXTURE_SEEDS),
);

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe(`decoders on hostile bytes (${RUNS} cases per property)`, () => {
  it('has fixture seeds to mutate', () => {
    expect(FIXTURE_SEEDS.length).toBeGreaterThan(10);
  });

  it(
    'random bytes: only NetlinkDecodeError is thrown, inside the buffer; views stay inside their message',
    () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), decodeEverywhere), PARAMETERS);
    },
    TIMEOUT_MS,
  );

  it(
    'random bytes behind a valid message header: the same, past the framing checks',
    () => {
      const headed = fc
        .record({ type: fc.constantFrom(0x0300, 2, 3, 0x0301, 0x0100), flags: u16, body: someBytes(300) })
        .map(({ type, flags, body }) => {
          const message = new Uint8Array(16 + body.length);
          const view = new DataView(message.buffer);
          view.setUint32(0, message.length, true);
          view.setUint16(4, type, true);
          view.setUint16(6, flags, true);
          message.set(body, 16);
          return message;
        });
      fc.assert(fc.property(headed, decodeEverywhere), PARAMETERS);
    },
    TIMEOUT_MS,
  );

  it(
    'mutated valid messages and fixtures: only NetlinkDecodeError is thrown; decoding ends',
    () => {
      const damaged = fc
        .tuple(seedBytes, fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([seed, changes]) => changes.reduce(mutate, seed));
      fc.assert(fc.property(damaged, decodeEverywhere), PARAMETERS);
    },
    TIMEOUT_MS,
  );

  it(
    'mutated bytes at an offset inside a larger ArrayBuffer: views never leave their message',
    () => {
      const placed = fc
        .tuple(seedBytes, mutation, fc.nat({ max: 7 }), fc.nat({ max: 7 }))
        .map(([seed, change, before, after]) => {
          const damaged = mutate(seed, change);
          const backing = new Uint8Array(before + damaged.length + after).fill(0xee);
          backing.set(damaged, before);
          return backing.subarray(before, before + damaged.length);
        });
      fc.assert(fc.property(placed, decodeEverywhere), PARAMETERS);
    },
    TIMEOUT_MS,
  );
});

describe(`valid messages round-trip (${RUNS} cases per property)`, () => {
  it(
    'buildPacketMessage then decodeMessages gives the input back',
    () => {
      fc.assert(
        fc.property(packetOptions, (options) => {
          const decoded = [...decodeMessages(buildPacketMessage(options))].map(messageShape);
          expect(decoded).toStrictEqual([expectedShape(options)]);
        }),
        PARAMETERS,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'a batch of built messages decodes to each input, in order',
    () => {
      fc.assert(
        fc.property(fc.array(packetOptions, { maxLength: 6 }), (all) => {
          const batch = concat(all.map(buildPacketMessage));
          expect([...decodeMessages(batch)].map(messageShape)).toStrictEqual(all.map(expectedShape));
        }),
        PARAMETERS,
      );
    },
    TIMEOUT_MS,
  );

  it(
    'parsePacket reads a built message (cut-by-receiver flag or not) as a whole packet',
    () => {
      fc.assert(
        fc.property(packetOptions, (options) => {
          const shape = packetShape(parsePacket(buildPacketMessage(options)));
          expect(shape).toStrictEqual(expectedShape({ ...options, flags: 0 }));
        }),
        PARAMETERS,
      );
    },
    TIMEOUT_MS,
  );
});

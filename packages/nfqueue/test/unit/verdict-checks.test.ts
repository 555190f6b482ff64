/**
 * Every verdict is checked before anything is sent, verdicts leave in the order they were given,
 * a verdict the kernel refuses falls back to the default verdict once, and errors nobody listens
 * for become rate-limited warnings. Against the fake native binding: no kernel.
 */
import {
  NFQNL_MSG_VERDICT,
  NFQNL_MSG_VERDICT_BATCH,
  NF_ACCEPT,
  NF_DROP,
  NF_QUEUE,
  NF_REPEAT,
  NF_STOP,
  NetlinkRangeError,
  buildPacketMessage,
  iterateMessages,
  nfqMessageType,
  queueVerdict,
} from '@nfq/netlink';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidOptionError,
  InvalidVerdictError,
  MangleArgumentError,
  type Packet,
  PacketHandlerError,
  type Queue,
  type QueueOptions,
  Verdict,
  VerdictRejectedError,
  mangle,
  mangleIp,
  openQueue,
  validateQueueOptions,
} from '../../src/index.js';
import { type FakeNativeQueue, createFakeBinding, decodeVerdicts } from '../fake-native.js';

const VERDICT = nfqMessageType(NFQNL_MSG_VERDICT);
const BATCH = nfqMessageType(NFQNL_MSG_VERDICT_BATCH);

/** A whole IPv4/UDP packet 127.0.0.1 -> 127.0.0.1, `data` as its payload. */
function ipv4Udp(data: number[] = [1, 2, 3, 4]): Uint8Array {
  const length = 28 + data.length;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  bytes.set([0x45, 0, length >> 8, length & 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
  view.setUint16(20, 1000);
  view.setUint16(22, 2000);
  view.setUint16(24, 8 + data.length);
  bytes.set(data, 28);
  return bytes;
}

/** A whole IPv6 packet with `payloadLength` zero bytes after its header. */
function ipv6(payloadLength: number, declared = payloadLength): Uint8Array {
  const bytes = new Uint8Array(40 + payloadLength);
  bytes[0] = 0x60;
  new DataView(bytes.buffer).setUint16(4, declared);
  bytes[6] = 59; // no next header
  return bytes;
}

const packetMessage = (id: number, family = 2): Uint8Array =>
  buildPacketMessage({ queue: 3, id, family, hwProtocol: family === 10 ? 0x86dd : 0x0800, hook: 3, payload: family === 10 ? ipv6(0) : ipv4Udp() });

async function open(options: Partial<QueueOptions> = {}, listen = true): Promise<{ queue: Queue; native: FakeNativeQueue; errors: Error[]; held: Packet[] }> {
  const { binding, opened } = createFakeBinding();
  const queue = await openQueue({ queue: 3, ...options }, { binding });
  const errors: Error[] = [];
  if (listen) queue.on('error', (error) => errors.push(error));
  const held: Packet[] = [];
  return { queue, native: opened[0]!, errors, held };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const kernelVerdicts = (native: FakeNativeQueue): number[][] => native.verdicts.map((v) => [v.id, v.verdict]);

/** The NLMSG_ERROR the kernel answers a refused message with: -errno, then the whole request echoed. */
function refusal(request: Uint8Array, errno: number): Uint8Array {
  const bytes = Buffer.alloc(20 + request.length);
  bytes.writeUInt32LE(bytes.length, 0);
  bytes.writeUInt16LE(2, 4); // NLMSG_ERROR
  bytes.writeInt32LE(-errno, 16);
  bytes.set(request, 20);
  return bytes;
}

/** Each message of every sendVerdicts call so far, in order. */
const sentMessages = (native: FakeNativeQueue): Uint8Array[] =>
  native.sent.flatMap((sent) => [...iterateMessages(sent)].map((message) => Uint8Array.from(message.bytes)));

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('verdict values the kernel refuses are refused before sending', () => {
  it.each([
    ['99', 99],
    ['NF_STOLEN (2)', 2],
    ['6', 6],
    ['NF_ACCEPT with bits above the low byte', 0x101],
    ['NF_QUEUE with bits 8-14 set', NF_QUEUE | 0x100],
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['a string', '1'],
  ])('verdictBatch refuses %s, sends nothing, and the packets keep waiting', async (_what, verdict) => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2));
    const error = (() => {
      try {
        queue.verdictBatch(2, verdict as number);
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidVerdictError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_VERDICT', packetId: 2 });
    await settle();
    expect(native.sent).toHaveLength(0);
    expect(queue.outstandingCount).toBe(2);
    expect(held.map((packet) => packet.hasVerdict)).toEqual([false, false]);
    queue.verdictBatch(2, Verdict.Accept); // the packets can still get their verdict
    await settle();
    expect(kernelVerdicts(native)).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
    ]);
  });

  it('verdictBatch takes every verdict the kernel accepts, and refuses unknown options', async () => {
    const { queue, native } = await open();
    queue.on('packet', () => undefined);
    native.deliver(...[1, 2, 3, 4, 5].map((id) => packetMessage(id)));
    queue.verdictBatch(1, Verdict.Drop);
    queue.verdictBatch(2, Verdict.Repeat, { mark: 7 });
    queue.verdictBatch(3, Verdict.Stop);
    queue.verdictBatch(4, Verdict.queue(9, true));
    expect(() => queue.verdictBatch(5, Verdict.Accept, { mrak: 1 } as never)).toThrow(/'mrak' is not a field/);
    expect(() => queue.verdictBatch(5, Verdict.Accept, JSON.parse('{"__proto__": 1}'))).toThrow(InvalidVerdictError);
    expect(() => queue.verdictBatch(5, Verdict.Accept, { mark: 2 ** 32 })).toThrow(/mark must be an integer/);
    expect(() => queue.verdictBatch(-1, Verdict.Accept)).toThrow(InvalidVerdictError);
    queue.verdictBatch(5, Verdict.Accept);
    await settle();
    expect(kernelVerdicts(native)).toEqual([
      [1, NF_DROP],
      [2, NF_REPEAT],
      [3, NF_STOP],
      [4, Verdict.queue(9, true)],
      [5, NF_ACCEPT],
    ]);
  });
});

describe('verdict constructors range-check the queue number', () => {
  it.each([70000, -1, 1.5, Number.NaN, '3'])('Verdict.queue(%s) throws InvalidVerdictError', (queueNum) => {
    expect(() => Verdict.queue(queueNum as number)).toThrow(InvalidVerdictError);
    expect(() => Verdict.queue(queueNum as number)).toThrow(/target queue must be an integer from 0 to 65535/);
  });

  it.each([70000, -1, 1.5, Number.NaN])('@nfq/netlink queueVerdict(%s) throws a NetlinkRangeError with a code', (queueNum) => {
    expect(() => queueVerdict(queueNum)).toThrow(RangeError);
    expect(() => queueVerdict(queueNum)).toThrow(NetlinkRangeError);
    expect(() => queueVerdict(queueNum)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', field: 'queue' }));
  });

  it('Verdict.queue encodes the queue and bypass exactly', () => {
    expect(Verdict.queue(65535)).toBe(((65535 << 16) | NF_QUEUE) >>> 0);
    expect(Verdict.queue(0, true)).toBe(0x8000 | NF_QUEUE);
    expect(() => Verdict.queue(1, 'yes' as unknown as boolean)).toThrow(/bypass must be true or false/);
  });

  it('packet.queue refuses 70000 with a typed error and keeps the packet verdict-free', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    const packet = held[0]!;
    expect(() => packet.queue(70000)).toThrow(InvalidVerdictError);
    expect(() => packet.queue(-1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_VERDICT', packetId: 1 }));
    expect(() => packet.queue(2, { bypas: true } as never)).toThrow(/'bypas' is not a field/);
    expect(packet.hasVerdict).toBe(false);
    packet.queue(2, { bypass: true });
    await settle();
    expect(kernelVerdicts(native)).toEqual([[1, Verdict.queue(2, true)]]);
  });
});

describe('replacement payloads must be an IP packet of the packet family', () => {
  const v4 = ipv4Udp();
  const withVersion = Uint8Array.from(v4, (b, i) => (i === 0 ? 0x65 : b));
  const longIhl = Uint8Array.from(v4, (b, i) => (i === 0 ? 0x4f : b)); // 60-byte header in 32 bytes
  const shortIhl = Uint8Array.from(v4, (b, i) => (i === 0 ? 0x44 : b));
  const longTotal = Uint8Array.from(v4, (b, i) => (i === 3 ? 200 : b));
  const shortTotal = Uint8Array.from(v4, (b, i) => (i === 3 ? 10 : b));
  it.each([
    ['0 bytes', new Uint8Array(0), /shorter than the 20-byte IPv4 header/],
    ['10 bytes', new Uint8Array(10).fill(0x45), /shorter than the 20-byte IPv4 header/],
    ['a version nibble of 6', withVersion, /version nibble is 6/],
    ['an IHL beyond the buffer', longIhl, /IHL says a 60-byte header/],
    ['an IHL below 5', shortIhl, /IHL 4 is below 5/],
    ['a total length beyond the buffer', longTotal, /total length 200 is beyond/],
    ['a total length below the header', shortTotal, /total length 10 is shorter/],
    ['an IPv6 packet', ipv6(4), /version nibble is 6/],
  ])('accept, repeat and stop refuse %s for an IPv4 packet, and send nothing', async (_what, payload, message) => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    const packet = held[0]!;
    for (const give of [() => packet.accept({ payload }), () => packet.repeat({ payload }), () => packet.stop({ payload, mark: 1 })]) {
      expect(give).toThrow(InvalidVerdictError);
      expect(give).toThrow(message);
    }
    expect(packet.hasVerdict).toBe(false);
    await settle();
    expect(native.sent).toHaveLength(0);
    packet.accept({ payload: v4 }); // a whole packet is taken
    await settle();
    expect(decodeVerdicts(native.sent[0]!)).toEqual([{ type: VERDICT, queue: 3, id: 1, verdict: NF_ACCEPT, payload: [...v4] }]);
  });

  it('checks IPv6 replacements against the payload length', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1, 10));
    const packet = held[0]!;
    expect(() => packet.accept({ payload: ipv6(4, 100) })).toThrow(/payload length 100 is beyond/);
    expect(() => packet.accept({ payload: new Uint8Array(39).fill(0x60) })).toThrow(/shorter than the 40-byte IPv6 header/);
    expect(() => packet.accept({ payload: ipv4Udp(new Array(12).fill(0)) })).toThrow(/version nibble is 4/);
    packet.accept({ payload: ipv6(4) });
    await settle();
    expect(kernelVerdicts(native)).toEqual([[1, NF_ACCEPT]]);
  });
});

describe('changes of the wrong kind are typed errors', () => {
  it.each([
    ['null', null],
    ['a number', 5],
    ['a string', 'accept'],
    ['an array', [1]],
    ['an unknown field', { paylod: ipv4Udp() }],
    ['an own __proto__ (JSON.parse)', JSON.parse('{"__proto__": {"mark": 1}}')],
    ['hasOwnProperty', { hasOwnProperty: 1 }],
    ['isPrototypeOf', { isPrototypeOf: 1 }],
    ['a payload that is a string', { payload: 'E\u0000\u0000\u0014' }],
    ['a payload that is an ArrayBuffer', { payload: new ArrayBuffer(20) }],
  ])('accept(%s) throws InvalidVerdictError and sends nothing', async (_what, changes) => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    expect(() => held[0]!.accept(changes as never)).toThrow(InvalidVerdictError);
    expect(held[0]!.hasVerdict).toBe(false);
    await settle();
    expect(native.sent).toHaveLength(0);
  });

  it('refuses a payload whose ArrayBuffer was detached, naming it', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    const payload = ipv4Udp();
    structuredClone(payload.buffer, { transfer: [payload.buffer] }); // detaches payload.buffer
    expect(() => held[0]!.accept({ payload })).toThrow(InvalidVerdictError);
    expect(() => held[0]!.accept({ payload })).toThrow(/detached ArrayBuffer/);
    expect(held[0]!.hasVerdict).toBe(false);
  });

  it('mangle and mangleIp refuse a string or an ArrayBuffer replacement with MangleArgumentError', () => {
    const packet = ipv4Udp([0x61, 0x62, 0x63, 0x64]);
    for (const edit of [mangle, mangleIp]) {
      for (const replacement of ['xy', new ArrayBuffer(2), undefined]) {
        const call = () => edit(packet, { offset: 28, length: 2, replacement: replacement as never });
        expect(call).toThrow(MangleArgumentError);
        expect(call).toThrow(expect.objectContaining({ code: 'ERR_MANGLE_INVALID_ARGUMENT' }));
      }
      expect(() => edit(packet, null as never)).toThrow(MangleArgumentError);
      expect(() => edit('packet' as never, { offset: 0, length: 0, replacement: new Uint8Array(0) })).toThrow(MangleArgumentError);
    }
    expect([...mangle(packet, { offset: 0, length: 2, replacement: Buffer.from('xy') }).subarray(28)]).toEqual([0x78, 0x79, 0x63, 0x64]);
  });
});

describe('option names are own keys only', () => {
  it.each([
    ['__proto__', JSON.parse('{"queue": 0, "__proto__": {"x": 1}}')],
    ['hasOwnProperty', { queue: 0, hasOwnProperty: 1 }],
    ['valueOf', { queue: 0, valueOf: 1 }],
    ['isPrototypeOf', { queue: 0, isPrototypeOf: 1 }],
    ['constructor', { queue: 0, constructor: 1 }],
  ])('refuses %s as an unknown option', (name, options) => {
    expect(() => validateQueueOptions(options)).toThrow(InvalidOptionError);
    expect(() => validateQueueOptions(options)).toThrow(expect.objectContaining({ option: name, code: 'ERR_INVALID_OPTION' }));
  });

  it('does not take an inherited queue', () => {
    expect(() => validateQueueOptions(Object.create({ queue: 0 }))).toThrow(expect.objectContaining({ option: 'queue' }));
  });

  it("refuses copyMode 'none', saying why and what to use", async () => {
    const { binding, opened } = createFakeBinding();
    // A JavaScript caller (no types) may pass it.
    const error = await openQueue({ queue: 0, copyMode: 'none' as 'meta' }, { binding }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option: 'copyMode' });
    expect((error as Error).message).toMatch(/drops every matched packet/);
    expect((error as Error).message).toMatch(/'meta' for metadata only/);
    expect(opened).toHaveLength(0);
  });

  it('toXml refuses unknown and non-boolean flags', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    const packet = held[0]!;
    expect(() => packet.toXml({ paylod: false } as never)).toThrow(InvalidOptionError);
    expect(() => packet.toXml({ hasOwnProperty: true } as never)).toThrow(InvalidOptionError);
    expect(() => packet.toXml({ payload: 'no' } as never)).toThrow(/must be true or false/);
    expect(packet.toXml({ payload: false, time: false })).not.toContain('<payload>');
  });
});

describe('verdicts leave in the order they were given', () => {
  it('sends per-packet VERDICT messages when the ids were given out of order', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    const [one, two, three] = held;
    one!.accept();
    three!.accept();
    two!.accept();
    await settle();
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.type, v.id])).toEqual([
      [VERDICT, 1],
      [VERDICT, 3],
      [VERDICT, 2],
    ]);
    expect(kernelVerdicts(native).map(([id]) => id)).toEqual([1, 3, 2]);
    expect(queue.stats().coalescedFlushes).toBe(0);
  });

  it('still coalesces verdicts given in id order', async () => {
    const { queue, native, held } = await open();
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    for (const packet of held) packet.accept();
    await settle();
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.type, v.id])).toEqual([[BATCH, 3]]);
  });
});

describe('a verdict the kernel refuses', () => {
  it('gives the packets of a refused VERDICT_BATCH the default verdict, once, and says so', async () => {
    const { queue, native, errors } = await open({ defaultVerdict: 'drop' });
    queue.on('packet', (packet) => packet.accept());
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    const [batch] = sentMessages(native);
    expect(decodeVerdicts(batch!)[0]!.type).toBe(BATCH);
    native.deliver(refusal(batch!, 22)); // EINVAL
    const error = errors[0] as VerdictRejectedError;
    expect(error).toBeInstanceOf(VerdictRejectedError);
    expect(error).toMatchObject({ code: 'EINVAL', batch: true, packetIds: [1, 2, 3], outcome: 'default-verdict-sent' });
    expect(error.message).toMatch(/packets 1, 2, 3 .*EINVAL.*default verdict \(drop\) instead/);
    const resent = sentMessages(native).slice(1);
    expect(resent.map((m) => decodeVerdicts(m)[0]).map((v) => [v!.type, v!.id, v!.verdict])).toEqual([
      [VERDICT, 1, NF_DROP],
      [VERDICT, 2, NF_DROP],
      [VERDICT, 3, NF_DROP],
    ]);
    expect(queue.stats()).toMatchObject({ verdictsRejected: 1, defaultVerdicts: { rejected: 3 } });
    // The default verdicts refused too (each message answered): reported, not resent.
    native.deliver(...resent.map((message) => refusal(message, 22)));
    expect(errors.slice(1).map((e) => (e as VerdictRejectedError).outcome)).toEqual([
      'default-verdict-refused',
      'default-verdict-refused',
      'default-verdict-refused',
    ]);
    expect(errors[1]!.message).toBe(
      'the kernel refused the default verdict (drop) for packet 1 with EINVAL; it was not sent again: the packet waits in the kernel until the queue closes',
    );
    expect(queue.stats()).toMatchObject({ verdictsRejected: 4, packetsRejected: 3 });
    await settle();
    expect(sentMessages(native)).toHaveLength(4); // nothing after the three resent verdicts
  });

  it('counts a refused send of default verdicts answered with EPERM once, whole, and does not resend it', async () => {
    const { queue, native, errors } = await open();
    queue.on('packet', (packet) => packet.drop());
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    native.deliver(refusal(sentMessages(native)[0]!, 22)); // the VERDICT_BATCH: defaults resent in one send
    expect(decodeVerdicts(native.sent[1]!).map((v) => [v.type, v.id])).toEqual([1, 2, 3].map((id) => [VERDICT, id]));
    const answers = withoutCapability(native);
    native.deliver(refusal([...iterateMessages(native.sent[1]!)][0]!.bytes, 1)); // EPERM for its first message only
    expect(errors.slice(1)).toHaveLength(1);
    expect(errors[1]).toMatchObject({ code: 'EPERM', outcome: 'send-refused', refusedMessages: 3, packetIds: [1, 2, 3] });
    expect(queue.stats()).toMatchObject({ verdictsRejected: 4, packetsRejected: 3, defaultVerdicts: { rejected: 3 } });
    await settle();
    expect(native.sent).toHaveLength(2);
    expect(answers).toHaveLength(0);
  });

  it('gives a packet whose VERDICT was refused the default verdict; ENOENT needs nothing', async () => {
    const { queue, native, errors } = await open();
    queue.on('packet', (packet) => packet.drop());
    native.deliver(packetMessage(7));
    const [verdict] = sentMessages(native);
    native.deliver(refusal(verdict!, 22));
    expect(errors[0]).toMatchObject({ name: 'VerdictRejectedError', packetId: 7, packetIds: [7], batch: false, outcome: 'default-verdict-sent' });
    expect(decodeVerdicts(sentMessages(native)[1]!)).toMatchObject([{ type: VERDICT, id: 7, verdict: NF_ACCEPT }]);
    native.deliver(packetMessage(8));
    const last = sentMessages(native).at(-1)!;
    native.deliver(refusal(last, 2)); // ENOENT: no such packet waits
    expect(errors[1]).toMatchObject({ code: 'ENOENT', packetId: 8, outcome: 'not-waiting' });
    await settle();
    expect(sentMessages(native)).toHaveLength(3);
  });
});

/**
 * Makes the fake answer as the kernel does once the process lacks CAP_NET_ADMIN: nfnetlink refuses
 * every message of a send but answers only the first, with EPERM (`everyMessage`: answers each, as
 * for a refusal per message). The answers are returned for the test to deliver.
 */
function withoutCapability(native: FakeNativeQueue, everyMessage = false): Uint8Array[] {
  const answers: Uint8Array[] = [];
  native.sendVerdicts = (given: Uint8Array, length?: number): void => {
    const messages = given.subarray(0, length ?? given.length);
    native.sent.push(Uint8Array.from(messages));
    const refused = [...iterateMessages(messages)].map((message) => refusal(message.bytes, 1));
    answers.push(...(everyMessage ? refused : refused.slice(0, 1)));
  };
  return answers;
}

describe('a send the kernel refuses with EPERM (CAP_NET_ADMIN missing)', () => {
  const held = async (count: number) => {
    const opened = await open();
    opened.queue.on('packet', (packet) => opened.held.push(packet));
    const answers = withoutCapability(opened.native);
    opened.native.deliver(...Array.from({ length: count }, (_, i) => packetMessage(i + 1)));
    return { ...opened, answers };
  };

  it('counts and names every verdict message of the send from the one EPERM, and resends nothing', async () => {
    const { queue, native, errors, held: packets, answers } = await held(5);
    for (const packet of [...packets].reverse()) packet.accept(); // out of id order: five VERDICT messages
    await settle();
    expect(native.sent).toHaveLength(1);
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.type, v.id])).toEqual([5, 4, 3, 2, 1].map((id) => [VERDICT, id]));
    expect(answers).toHaveLength(1); // the kernel answers the first message only
    native.deliver(...answers.splice(0));
    expect(errors).toHaveLength(1);
    const error = errors[0] as VerdictRejectedError;
    expect(error).toBeInstanceOf(VerdictRejectedError);
    expect(error).toMatchObject({ code: 'EPERM', errno: 1, outcome: 'send-refused', refusedMessages: 5, packetIds: [5, 4, 3, 2, 1], packetId: 5, batch: false });
    expect(error.message).toBe(
      'the kernel refused a whole send of 5 verdict messages (packets 5, 4, 3, 2, 1) with EPERM: this process lacks CAP_NET_ADMIN, ' +
        'which nfnetlink checks on every message; keep it when dropping privileges (e.g. with dropPrivileges()); nothing was resent, ' +
        'since without the capability every verdict is refused: the packets stay queued in the kernel until the queue closes, when the kernel drops them',
    );
    expect(queue.stats()).toMatchObject({ verdictsRejected: 5, packetsRejected: 5, defaultVerdicts: { rejected: 0 } });
    await settle();
    await settle();
    expect(native.sent).toHaveLength(1); // no default verdict resent: no loop
    expect(answers).toHaveLength(0);
  });

  it('accounts for every packet when verdicts are given while the refusal of a VERDICT_BATCH arrives', async () => {
    const { queue, native, errors } = await open();
    const answers = withoutCapability(native);
    queue.on('packet', (packet) => packet.accept());
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3)); // one VERDICT_BATCH
    native.deliver(...answers.splice(0), packetMessage(4), packetMessage(5)); // its refusal, then two more packets
    expect(native.sent).toHaveLength(2);
    expect(decodeVerdicts(native.sent[1]!).map((v) => [v.type, v.id])).toEqual([[BATCH, 5]]); // nothing resent with them
    native.deliver(...answers.splice(0));
    expect(errors.map((e) => [e.name, (e as VerdictRejectedError).outcome, (e as VerdictRejectedError).packetIds])).toEqual([
      ['VerdictRejectedError', 'send-refused', [1, 2, 3]],
      ['VerdictRejectedError', 'send-refused', [4, 5]],
    ]);
    expect(errors[0]!.message).toMatch(/^the kernel refused the verdict batch for packets 1, 2, 3 with EPERM: this process lacks CAP_NET_ADMIN/);
    expect(errors[0]!.message).toMatch(/the packets stay queued in the kernel until the queue closes, when the kernel drops them$/);
    expect(queue.stats()).toMatchObject({ verdictsRejected: 2, packetsRejected: 5, defaultVerdicts: { rejected: 0 } });
    await settle();
    expect(native.sent).toHaveLength(2);
    expect(answers).toHaveLength(0);
  });

  it('counts a send once when the kernel answers each of its messages with EPERM', async () => {
    const { queue, native, errors, held: packets } = await open();
    queue.on('packet', (packet) => packets.push(packet));
    const answers = withoutCapability(native, true);
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    for (const packet of [...packets].reverse()) packet.accept();
    await settle();
    expect(answers).toHaveLength(3);
    native.deliver(...answers.splice(0));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ outcome: 'send-refused', refusedMessages: 3, packetIds: [3, 2, 1] });
    expect(queue.stats()).toMatchObject({ verdictsRejected: 3, packetsRejected: 3 });
    await settle();
    expect(native.sent).toHaveLength(1);
  });

  it('lists the first 20 packets in the message and every packet in packetIds', async () => {
    const { queue, native, errors, held: packets, answers } = await held(30);
    for (const packet of [...packets].reverse()) packet.accept();
    await settle();
    native.deliver(...answers.splice(0));
    const error = errors[0] as VerdictRejectedError;
    expect(error.packetIds).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));
    expect(error.message).toContain(`a whole send of 30 verdict messages (packets ${Array.from({ length: 20 }, (_, i) => 30 - i).join(', ')} and 10 more) with EPERM`);
    expect(queue.stats()).toMatchObject({ verdictsRejected: 30, packetsRejected: 30 });
    expect(native.sent).toHaveLength(1);
  });

  it('reports a refused send no longer remembered by the message answered, and resends nothing', async () => {
    const { queue, native, errors } = await open();
    const answers = withoutCapability(native);
    queue.on('packet', (packet) => packet.accept());
    for (let id = 1; id <= 300; id++) native.deliver(packetMessage(id)); // 300 sends of one VERDICT each
    expect(native.sent).toHaveLength(300);
    native.deliver(answers[0]!); // the answer about the first send, long after
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'EPERM', outcome: 'send-refused', refusedMessages: 1, packetIds: [1] });
    expect(errors[0]!.message).toMatch(
      /^the kernel refused the send that carried the verdict for packet 1 \(its other messages are no longer remembered\) with EPERM: .*its packets stay queued in the kernel until the queue closes, when the kernel drops them$/,
    );
    expect(queue.stats()).toMatchObject({ verdictsRejected: 1, packetsRejected: 1 });
    await settle();
    expect(native.sent).toHaveLength(300);
  });
});

describe('errors with no error listener', () => {
  it('become rate-limited process warnings, and the queue keeps serving', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const warnings: Array<[string, unknown]> = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((warning: string, options: unknown) => {
      warnings.push([warning, options]);
    }) as typeof process.emitWarning);
    const { queue, native } = await open({}, false);
    queue.on('packet', (packet) => {
      if (packet.id % 2 === 0) throw new Error(`bug in handler for ${packet.id}`);
      packet.accept();
    });
    native.deliver(...[1, 2, 3, 4, 5, 6].map((id) => packetMessage(id)));
    await Promise.resolve();
    expect(kernelVerdicts(native).map(([id]) => id).sort()).toEqual([1, 2, 3, 4, 5, 6]); // every packet verdicted
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![0]).toMatch(/PacketHandlerError: the handler failed for packet 2 \(bug in handler for 2\)/);
    expect(warnings[0]![1]).toMatchObject({ code: 'ERR_PACKET_HANDLER' });
    vi.advanceTimersByTime(1000);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]![0]).toMatch(/^2 more ERR_PACKET_HANDLER errors/);
    // A refused verdict is reported the same way, under its own code.
    native.deliver(refusal(sentMessages(native)[0]!, 22));
    expect(warnings.at(-1)![1]).toMatchObject({ code: 'EINVAL' });
    native.deliver(packetMessage(7));
    expect(kernelVerdicts(native).map(([id]) => id)).toContain(7);
    await queue.close();
  });
});

describe('a handler that fails after its verdict', () => {
  it('says the packet already had its verdict, and sends nothing else', async () => {
    const { queue, native, errors } = await open({ defaultVerdict: 'drop' });
    queue.on('packet', (packet) => {
      packet.accept();
      throw new Error('late bug');
    });
    native.deliver(packetMessage(1));
    const error = errors[0] as PacketHandlerError;
    expect(error).toBeInstanceOf(PacketHandlerError);
    expect(error.defaultVerdictGiven).toBe(false);
    expect(error.message).toMatch(/already had its verdict/);
    expect(error.message).not.toMatch(/got the default verdict/);
    expect(kernelVerdicts(native)).toEqual([[1, NF_ACCEPT]]);
    expect(queue.stats().defaultVerdicts.handlerError).toBe(0);
  });

  it('says the same for an async handler that rejects after its verdict', async () => {
    const { queue, native, errors } = await open({ defaultVerdict: 'drop' });
    queue.on('packet', async (packet) => {
      packet.accept();
      await null;
      throw new Error('late async bug');
    });
    native.deliver(packetMessage(1));
    await settle();
    expect(errors[0]).toMatchObject({ name: 'PacketHandlerError', defaultVerdictGiven: false });
    expect(kernelVerdicts(native)).toEqual([[1, NF_ACCEPT]]);
  });
});

/**
 * The queue's policies against a fake native binding: option checks, default verdicts, timeouts,
 * backpressure, overruns, close, stats. No kernel, no privileges.
 */
import { NF_ACCEPT, NF_DROP, NLM_F_NFQ_CUT_BY_RECEIVER, buildPacketMessage } from '@nfq/netlink';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidOptionError,
  QUEUE_OPTION_LIMITS,
  InvalidVerdictError,
  type Packet,
  PacketHandlerError,
  type Queue,
  type QueueOptions,
  QueueClosedError,
  VerdictAlreadyGivenError,
  openQueue,
  queueStats,
} from '../../src/index.js';
import { type FakeNativeQueue, createFakeBinding, decodeVerdicts } from '../fake-native.js';

const packetMessage = (id: number, extra: Partial<Parameters<typeof buildPacketMessage>[0]> = {}): Uint8Array =>
  buildPacketMessage({ queue: 3, id, hwProtocol: 0x0800, hook: 3, outdev: 2, payload: Uint8Array.of(0x45, 0, 0, 20), ...extra });

async function open(options: Partial<QueueOptions> = {}): Promise<{ queue: Queue; native: FakeNativeQueue; errors: Error[] }> {
  const { binding, opened } = createFakeBinding();
  const queue = await openQueue({ queue: 3, ...options }, { binding });
  const errors: Error[] = [];
  queue.on('error', (error) => errors.push(error));
  return { queue, native: opened[0]!, errors };
}

/** A minimal IPv4 packet of `length` bytes (header only, total length set; the rest zero). */
const ipv4Packet = (length: number): Uint8Array => {
  const bytes = new Uint8Array(length);
  bytes[0] = 0x45;
  new DataView(bytes.buffer).setUint16(2, Math.min(length, 0xffff));
  return bytes;
};

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** The verdicts as the kernel applied them (VERDICT_BATCH expanded), as [id, verdict]. */
const sentVerdicts = (native: FakeNativeQueue) => native.verdicts.map((v) => [v.id, v.verdict]);

afterEach(() => {
  vi.useRealTimers();
});

describe('openQueue option checks (before any system call)', () => {
  /** What a range error of `option` says: the shared limit's words and numbers. */
  const range = (option: keyof typeof QUEUE_OPTION_LIMITS): string => {
    const { min, max, what } = QUEUE_OPTION_LIMITS[option];
    return `${what} from ${min} to ${max}`;
  };
  const { queue, copyRange, maxLen, batchSize, receiveBufferSize, readerNice } = QUEUE_OPTION_LIMITS;
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['queue', { queue: queue.max + 1 }, range('queue')],
    ['queue', { queue: queue.min - 1 }, range('queue')],
    ['queue', { queue: 1.5 }, 'a queue number'],
    ['queue', { queue: '3' }, "got '3'"],
    ['copyRange', { queue: 0, copyRange: copyRange.max + 1 }, range('copyRange')],
    ['copyMode', { queue: 0, copyMode: 'all' }, "one of 'meta', 'packet'"],
    ['maxLen', { queue: 0, maxLen: maxLen.min - 1 }, range('maxLen')],
    ['batchSize', { queue: 0, batchSize: batchSize.max + 1 }, range('batchSize')],
    ['batchSize', { queue: 0, batchSize: batchSize.min - 1 }, range('batchSize')],
    ['receiveBufferSize', { queue: 0, receiveBufferSize: receiveBufferSize.max + 1 }, range('receiveBufferSize')],
    ['readerNice', { queue: 0, readerNice: readerNice.min - 1 }, range('readerNice')],
    ['failOpen', { queue: 0, failOpen: 'yes' }, 'true or false'],
    ['defaultVerdict', { queue: 0, defaultVerdict: 'reject' }, "one of 'accept', 'drop'"],
    ['verdictTimeout', { queue: 0, verdictTimeout: -5 }, 'milliseconds'],
    ['signal', { queue: 0, signal: {} }, 'an AbortSignal'],
    ['netns', { queue: 0, netns: '' }, 'namespace name'],
    ['queu', { queu: 0, queue: 0 }, 'is not an option of openQueue'],
  ];
  for (const [option, options, text] of refused) {
    it(`refuses ${JSON.stringify(options)} naming ${option}`, async () => {
      const { binding, opened } = createFakeBinding();
      const error = await openQueue(options as unknown as QueueOptions, { binding }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION', option });
      expect((error as Error).message).toContain(text);
      expect(opened).toHaveLength(0); // nothing was opened
    });
  }

  it('refuses a missing queue and an already aborted signal', async () => {
    const { binding, opened } = createFakeBinding();
    await expect(openQueue({} as QueueOptions, { binding })).rejects.toMatchObject({ option: 'queue' });
    const aborted = AbortSignal.abort();
    await expect(openQueue({ queue: 0, signal: aborted }, { binding })).rejects.toMatchObject({ name: 'AbortError' });
    expect(opened).toHaveLength(0);
  });
});

describe('verdicts and their checks', () => {
  it('refuses a payload over 65531 bytes, a bad mark and a packet of another queue, and sends nothing', async () => {
    const { queue, native } = await open();
    const other = await open({ queue: 4 });
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    const packet = held[0]!;
    expect(() => packet.accept({ payload: ipv4Packet(65532) })).toThrow(InvalidVerdictError);
    expect(() => packet.accept({ mark: 2 ** 32 })).toThrow(/mark must be an integer/);
    expect(() => packet.accept({ connmark: 1.5 })).toThrow(/connmark/);
    expect(() => packet.accept({ connlabels: new Uint8Array(4) })).toThrow(/connlabels must be a Uint8Array of 16 bytes \(128 label bits\), got 4 bytes/);
    expect(() => packet.accept({ connlabelsMask: new Uint8Array(16) })).toThrow(/connlabelsMask goes with connlabels/);
    expect(packet.hasVerdict).toBe(false);
    // A packet handed to the wrong queue's verdict path is refused too.
    other.queue.on('packet', () => {});
    expect(() => other.queue.verdictBatch(-1, NF_ACCEPT)).toThrow(InvalidVerdictError);
    packet.accept({ payload: ipv4Packet(65531) });
    await settle();
    expect(sentVerdicts(native)).toEqual([[1, NF_ACCEPT]]);
    await queue.close();
    expect(() => packet.drop()).toThrow(VerdictAlreadyGivenError);
    expect(() => queue.verdictBatch(1, NF_DROP)).toThrow(QueueClosedError);
  });

  it('gives an async handler that rejects the default verdict, and reports a PacketHandlerError', async () => {
    const { queue, native, errors } = await open({ defaultVerdict: 'drop' });
    queue.on('packet', async () => {
      await Promise.resolve();
      throw new Error('late bug');
    });
    native.deliver(packetMessage(7));
    await settle();
    await settle();
    expect(sentVerdicts(native)).toEqual([[7, NF_DROP]]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(PacketHandlerError);
    expect(errors[0]!.message).toContain('default verdict (drop)');
    expect(queue.stats().defaultVerdicts.handlerError).toBe(1);
  });

  it('verdicts a packet cut by the receiver (only its id known) with the default verdict', async () => {
    const { queue, native } = await open();
    queue.on('packet', (packet) => packet.accept());
    native.deliver(packetMessage(8, { flags: NLM_F_NFQ_CUT_BY_RECEIVER }), packetMessage(9));
    await settle();
    expect(sentVerdicts(native).sort()).toEqual([
      [8, NF_ACCEPT],
      [9, NF_ACCEPT],
    ]);
    expect(queue.stats().defaultVerdicts.cutByReceiver).toBe(1);
  });
});

describe('messages the kernel would never send', () => {
  it('counts an unknown message type and an NLMSG_ERROR mid-batch, and goes on with the packets around them', async () => {
    const { queue, native, errors } = await open();
    queue.on('packet', (packet) => packet.accept());
    const unknown = Uint8Array.from([16, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // type 0x1234, header only
    const refused = buildVerdictBatchRefusal();
    native.deliver(packetMessage(1), unknown, refused, packetMessage(2));
    await settle();
    expect(sentVerdicts(native)).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
    ]);
    expect(queue.stats()).toMatchObject({ received: 2, otherMessages: 1, verdictsRejected: 1 });
    expect(errors.map((e) => e.name)).toEqual(['VerdictRejectedError']);
  });
});

/** An NLMSG_ERROR (ENOENT) echoing a capped request header, as the kernel answers a bad verdict. */
function buildVerdictBatchRefusal(): Uint8Array {
  const bytes = new Uint8Array(36);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 36, true);
  view.setUint16(4, 2, true); // NLMSG_ERROR
  view.setUint16(6, 0x100, true); // NLM_F_CAPPED
  view.setInt32(16, -2, true); // -ENOENT
  view.setUint32(20, 32, true); // echoed request: length 32
  view.setUint16(24, 0x0301, true); // NFQNL_MSG_VERDICT
  return bytes;
}

describe('VERDICT_BATCH coalescing', () => {
  it('sends one VERDICT_BATCH when a flush holds only plain, equal verdicts and nothing older waits', async () => {
    const { queue, native } = await open();
    queue.on('packet', (packet) => packet.accept({ mark: 4 }));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.type & 0xff, v.id, v.mark])).toEqual([[3, 3, 4]]); // NFQNL_MSG_VERDICT_BATCH
    expect(native.verdicts).toEqual([1, 2, 3].map((id) => ({ id, verdict: NF_ACCEPT, mark: 4, batch: true })));
  });

  it('never covers a packet still waiting: an older held packet keeps the verdicts separate', async () => {
    const { queue, native } = await open();
    const held: Packet[] = [];
    queue.on('packet', (packet) => (packet.id === 1 ? held.push(packet) : packet.accept()));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.type & 0xff, v.id])).toEqual([
      [1, 2],
      [1, 3],
    ]);
    expect(native.verdicts.map((v) => v.id)).toEqual([2, 3]); // packet 1 still waits in the kernel
    held[0]!.drop();
    await settle();
    expect(native.verdicts.map((v) => [v.id, v.verdict])).toEqual([
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
      [1, NF_DROP],
    ]);
  });

  it('keeps verdicts separate when they differ or carry a payload', async () => {
    const { queue, native } = await open();
    queue.on('packet', (packet) => (packet.id === 2 ? packet.accept({ payload: ipv4Packet(20) }) : packet.accept()));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    expect(decodeVerdicts(native.sent[0]!)).toHaveLength(3);
    expect(queue.stats().coalescedFlushes).toBe(0);
  });
});

describe('timeouts, backpressure, overruns', () => {
  it('gives held packets the default verdict once verdictTimeout passes, oldest first', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { queue, native } = await open({ verdictTimeout: 1000 });
    const timedOut: number[] = [];
    queue.on('timeout', (packet) => timedOut.push(packet.id));
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    vi.advanceTimersByTime(600);
    native.deliver(packetMessage(2));
    held[1]!.accept(); // answered in time
    vi.advanceTimersByTime(500); // packet 1 is 1100 ms old
    expect(timedOut).toEqual([1]);
    vi.advanceTimersByTime(2000);
    expect(timedOut).toEqual([1]);
    expect(queue.stats()).toMatchObject({ timeouts: 1, held: 0 });
    expect(held[0]!.verdictSource).toBe('timeout');
  });

  it('pauses reading at highWaterMark held packets and resumes below half of it', async () => {
    const { queue, native } = await open({ highWaterMark: 4 });
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3), packetMessage(4));
    expect(native.paused).toBe(true);
    held[0]!.accept();
    held[1]!.accept();
    expect(native.paused).toBe(false);
    expect(native.calls.filter((c) => c === 'pause' || c === 'resume')).toEqual(['pause', 'resume']);
    expect(queue.stats().pauses).toBe(1);
  });

  it('emits overrun with the new count and the total, and keeps running', async () => {
    const { queue, native } = await open();
    const overruns: Array<{ count: number; total: number }> = [];
    queue.on('overrun', (info) => overruns.push(info));
    queue.on('packet', (packet) => packet.accept());
    native.overruns = 3;
    native.deliver(packetMessage(1));
    native.overruns = 5;
    native.deliver(packetMessage(2));
    native.deliver(packetMessage(3));
    expect(overruns).toEqual([
      { count: 3, total: 3 },
      { count: 2, total: 5 },
    ]);
    expect(queue.stats().overruns).toBe(5);
  });
});

describe('close', () => {
  it('verdicts what the socket still held, packets never handed over, and held ones, then unbinds', async () => {
    const { queue, native } = await open({ drainTimeout: 0 });
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1));
    native.receiveWithoutHandingOver(packetMessage(2));
    native.pendingInSocket.push(Buffer.from(packetMessage(3)));
    await queue.close();
    expect(sentVerdicts(native).sort()).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
    ]);
    expect(native.calls.slice(-1)).toEqual(['close']);
    expect(queue.stats().defaultVerdicts.close).toBe(3);
    expect(held.map((p) => p.verdictSource)).toEqual(['close']);
  });

  it('ends the iterators and gives unread packets the default verdict', async () => {
    const { queue, native } = await open();
    native.deliver(packetMessage(1), packetMessage(2));
    const batches = queue.batches()[Symbol.asyncIterator]();
    const first = await batches.next();
    expect(first.value?.map((p: Packet) => p.id)).toEqual([1, 2]);
    first.value![0]!.drop();
    native.deliver(packetMessage(3)); // never read by anyone
    const closing = queue.close();
    expect(await batches.next()).toEqual({ value: undefined, done: true });
    setTimeout(() => first.value![1]!.accept(), 10);
    await closing;
    expect(sentVerdicts(native).sort()).toEqual([
      [1, NF_DROP],
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
    ]);
  });
});

describe('health', () => {
  it('queueStats lists the kernel line of each queue with our own counters for ours', async () => {
    const { binding, opened } = createFakeBinding();
    const queue = await openQueue({ queue: 3 }, { binding });
    queue.on('packet', (packet) => packet.drop());
    opened[0]!.deliver(packetMessage(1));
    const rows = queueStats({}, { binding });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ queue: 3, portId: 4242, copyRange: 65535, idSequence: 9 });
    expect(rows[0]!.own).toMatchObject({ received: 1, verdicts: { drop: 1 } });
    await queue.close();
  });

  it('names interfaces from the queue namespace', async () => {
    const { queue, native } = await open();
    const names: Array<string | undefined> = [];
    queue.on('packet', (packet) => {
      names.push(packet.outdevName, packet.indevName);
      packet.accept();
    });
    native.deliver(packetMessage(1));
    expect(names).toEqual(['eth0', undefined]);
  });
});

describe('native errors become typed errors', () => {
  const failing = (error: Record<string, unknown>) => ({
    NativeQueue: {
      open: () => {
        throw Object.assign(new Error(String(error.message)), error);
      },
    },
    boundQueues: () => [],
  });

  it('maps each kind the binding throws to its class, keeping code, errno and details', async () => {
    const cases: Array<[Record<string, unknown>, string, Record<string, unknown>]> = [
      [{ message: 'needs CAP_NET_ADMIN', kind: 'PermissionDenied', code: 'EPERM', errno: 1 }, 'PermissionDeniedError', { code: 'EPERM' }],
      [
        { message: 'queue 3 is already bound', kind: 'AlreadyBound', code: 'EPERM', queue: 3, ownerPid: 77, ownerCommand: 'suricata', ownerPortId: 9 },
        'QueueAlreadyBoundError',
        { queue: 3, ownerPid: 77, ownerCommand: 'suricata', ownerPortId: 9 },
      ],
      [
        { message: 'bind queue 3: the kernel does not support nfnetlink_queue', kind: 'Unsupported', code: 'EOPNOTSUPP', errno: 95, feature: 'nfnetlink_queue' },
        'UnsupportedError',
        { code: 'EOPNOTSUPP', errno: 95, feature: 'nfnetlink_queue' },
      ],
      [{ message: 'bind queue 3: the kernel answered ENOMEM', kind: 'Kernel', code: 'ENOMEM', errno: 12 }, 'KernelError', { errno: 12 }],
    ];
    for (const [thrown, name, details] of cases) {
      const error = (await openQueue({ queue: 3 }, { binding: failing(thrown) }).catch((e: unknown) => e)) as Error;
      expect(error.name).toBe(name);
      expect(error.message).toBe(thrown.message);
      expect(error).toMatchObject(details);
      expect(error.cause).toBeInstanceOf(Error);
    }
  });
});

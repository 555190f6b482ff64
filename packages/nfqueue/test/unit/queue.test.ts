import {
  NF_ACCEPT,
  NF_DROP,
  NF_REPEAT,
  NF_STOP,
  NLM_F_CAPPED,
  buildPacketMessage,
  buildVerdict,
  buildVerdictBatch,
  nfqMessageType,
  NFQNL_MSG_VERDICT,
  NFQNL_MSG_VERDICT_BATCH,
  queueVerdict,
} from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import {
  InvalidVerdictError,
  type Packet,
  PacketHandlerError,
  type Queue,
  QueueAlreadyBoundError,
  QueueClosedError,
  Verdict,
  VerdictAlreadyGivenError,
  VerdictRejectedError,
  openQueue,
} from '../../src/index.js';
import { type FakeNativeQueue, createFakeBinding, decodeVerdicts } from '../fake-native.js';

const VERDICT_TYPE = nfqMessageType(NFQNL_MSG_VERDICT);
/** A 20-byte IPv4 header, a whole packet of its own (total length 20). */
const IPV4_HEADER = Uint8Array.of(0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1);

/** An IPv4 packet message from queue 3, hook OUTPUT, with a small payload. */
function packetMessage(id: number, extra: Partial<Parameters<typeof buildPacketMessage>[0]> = {}): Uint8Array {
  return buildPacketMessage({
    queue: 3,
    id,
    hwProtocol: 0x0800,
    hook: 3,
    payload: Uint8Array.of(0x45, 0, 0, 20, id & 0xff),
    ...extra,
  });
}

async function openFakeQueue(options: { defaultVerdict?: 'accept' | 'drop'; drainTimeout?: number } = {}): Promise<{
  queue: Queue;
  native: FakeNativeQueue;
}> {
  const { binding, opened } = createFakeBinding();
  const queue = await openQueue({ queue: 3, copyMode: 'packet', ...options }, { binding });
  return { queue, native: opened[0]! };
}

/** Lets the deferred flush (setImmediate) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Queue with a fake native binding', () => {
  it('hands the rest of a batch to the iterators when its last listener leaves mid-batch', async () => {
    const { queue, native } = await openFakeQueue();
    const seen: number[] = [];
    const handler = (packet: Packet): void => {
      seen.push(packet.id);
      packet.accept();
      if (packet.id === 2) queue.off('packet', handler);
    };
    queue.on('packet', handler);
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3), packetMessage(4));
    expect(seen).toEqual([1, 2]);
    expect(queue.outstandingCount).toBe(2);
    const iterated: number[] = [];
    for await (const packet of queue) {
      iterated.push(packet.id);
      packet.accept();
      if (iterated.length === 2) break;
    }
    expect(iterated).toEqual([3, 4]);
    expect(native.verdicts.map((v) => v.id).sort()).toEqual([1, 2, 3, 4]);
  });

  it('passes the native options on, without its own ones', async () => {
    const { native, queue } = await openFakeQueue({ defaultVerdict: 'drop' });
    expect(native.options).toEqual({ queue: 3, copyMode: 'packet' });
    expect(queue.queueNum).toBe(3);
    expect(queue.portId).toBe(4242);
    expect(native.calls).toEqual(['start']);
  });

  it('delivers each packet of a batch and sends all verdicts in one call after the batch', async () => {
    const { queue, native } = await openFakeQueue();
    const seen: Packet[] = [];
    queue.on('packet', (packet) => {
      seen.push(packet);
      expect(native.sent).toHaveLength(0); // nothing sent while the batch is being handled
      packet.accept();
    });
    native.deliver(packetMessage(1), packetMessage(2, { mark: 9 }), packetMessage(3));
    expect(seen.map((packet) => packet.id)).toEqual([1, 2, 3]);
    expect(seen[1]!.mark).toBe(9);
    expect(seen[0]!.mark).toBeUndefined();
    expect(seen[0]!.hook).toBe(3);
    expect(seen[0]!.hookName).toBe('OUTPUT');
    expect(seen[0]!.hwProtocol).toBe(0x0800);
    expect(Buffer.isBuffer(seen[2]!.payload)).toBe(true);
    expect([...seen[2]!.payload]).toEqual([0x45, 0, 0, 20, 3]);
    expect(native.sent).toHaveLength(1);
    // Three plain accepts with no older packet waiting: one VERDICT_BATCH up to id 3.
    expect(decodeVerdicts(native.sent[0]!)).toEqual([{ type: nfqMessageType(NFQNL_MSG_VERDICT_BATCH), queue: 3, id: 3, verdict: NF_ACCEPT }]);
    expect(native.verdicts.map((v) => v.id)).toEqual([1, 2, 3]);
    expect(queue.stats().coalescedFlushes).toBe(1);
    expect(queue.outstandingCount).toBe(0);
  });

  it('encodes every kind of verdict and its changes', async () => {
    const { queue, native } = await openFakeQueue();
    queue.on('packet', (packet) => {
      switch (packet.id) {
        case 1: packet.accept({ mark: 42, payload: IPV4_HEADER, connmark: 7 }); break;
        case 2: packet.drop(); break;
        case 3: packet.repeat({ mark: 1 }); break;
        case 4: packet.queue(8, { bypass: true }); break;
        case 5: packet.stop(); break;
      }
    });
    native.deliver(...[1, 2, 3, 4, 5].map((id) => packetMessage(id)));
    expect(decodeVerdicts(native.sent[0]!)).toEqual([
      { type: VERDICT_TYPE, queue: 3, id: 1, verdict: NF_ACCEPT, mark: 42, payload: [...IPV4_HEADER], hasCt: true },
      { type: VERDICT_TYPE, queue: 3, id: 2, verdict: NF_DROP },
      { type: VERDICT_TYPE, queue: 3, id: 3, verdict: NF_REPEAT, mark: 1 },
      { type: VERDICT_TYPE, queue: 3, id: 4, verdict: queueVerdict(8, true) },
      { type: VERDICT_TYPE, queue: 3, id: 5, verdict: NF_STOP },
    ]);
  });

  it('sends connection labels and their mask in the conntrack nest, as @nfq/netlink encodes them', async () => {
    const { queue, native } = await openFakeQueue();
    const labels = new Uint8Array(16);
    labels[12] = 0x10; // label 100
    queue.on('packet', (packet) => packet.accept({ connlabels: labels, connlabelsMask: labels }));
    native.deliver(packetMessage(1));
    const sent = native.sent[0]!;
    const seq = new DataView(sent.buffer, sent.byteOffset).getUint32(8, true);
    expect([...sent]).toEqual([...buildVerdict({ queue: 3, id: 1, verdict: NF_ACCEPT, connlabels: labels, connlabelsMask: labels, seq })]);
  });

  it('throws VerdictAlreadyGivenError on a second verdict and sends only the first', async () => {
    const { queue, native } = await openFakeQueue();
    let second: unknown;
    queue.on('packet', (packet) => {
      packet.drop();
      try {
        packet.accept();
      } catch (error) {
        second = error;
      }
    });
    native.deliver(packetMessage(77));
    expect(second).toBeInstanceOf(VerdictAlreadyGivenError);
    expect((second as VerdictAlreadyGivenError).packetId).toBe(77);
    expect((second as VerdictAlreadyGivenError).code).toBe('ERR_VERDICT_ALREADY_GIVEN');
    expect(decodeVerdicts(native.sent[0]!)).toEqual([{ type: VERDICT_TYPE, queue: 3, id: 77, verdict: NF_DROP }]);
  });

  it('keeps a packet verdict-free when its changes are invalid', async () => {
    const { queue, native } = await openFakeQueue();
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(5));
    expect(() => held[0]!.accept({ mark: -1 })).toThrow(InvalidVerdictError);
    expect(held[0]!.hasVerdict).toBe(false);
    held[0]!.accept({ mark: 1 });
    await settle();
    expect(decodeVerdicts(native.sent[0]!)).toEqual([{ type: VERDICT_TYPE, queue: 3, id: 5, verdict: NF_ACCEPT, mark: 1 }]);
  });

  it('flushes verdicts given later, coalesced into one call per tick', async () => {
    const { queue, native } = await openFakeQueue();
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2));
    expect(native.sent).toHaveLength(0);
    expect(queue.outstandingCount).toBe(2);
    held[0]!.accept();
    held[1]!.drop();
    expect(native.sent).toHaveLength(0); // not yet: flushed after this turn of the event loop
    await settle();
    expect(native.sent).toHaveLength(1);
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.id, v.verdict])).toEqual([
      [1, NF_ACCEPT],
      [2, NF_DROP],
    ]);
  });

  it('serves packets to an async iterator when no packet listener is attached', async () => {
    const { queue, native } = await openFakeQueue();
    native.deliver(packetMessage(1), packetMessage(2)); // before iteration starts: buffered
    const ids: number[] = [];
    const consumer = (async () => {
      for await (const packet of queue) {
        ids.push(packet.id);
        packet.accept();
        if (ids.length === 3) break; // leaving the loop closes the queue
      }
    })();
    await settle();
    native.deliver(packetMessage(3)); // the iterator is waiting: handed straight over
    await consumer;
    expect(ids).toEqual([1, 2, 3]);
    expect(queue.closed).toBe(true);
    expect(native.isClosed).toBe(true);
    expect(native.verdicts.map((v) => [v.id, v.verdict])).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
    ]);
  });

  it('close gives the default verdict to every waiting packet, then closes the native queue', async () => {
    const { queue, native } = await openFakeQueue({ defaultVerdict: 'drop', drainTimeout: 0 });
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(10), packetMessage(11), packetMessage(12));
    held[1]!.accept();
    const closing = queue.close();
    expect(queue.close()).toBe(closing); // idempotent: the same promise
    await closing;
    await queue.close();
    expect(native.calls.filter((call) => call === 'close')).toHaveLength(1);
    expect(native.calls.indexOf('stopReceiving')).toBeLessThan(native.calls.lastIndexOf('sendVerdicts'));
    expect(native.calls.at(-1)).toBe('close');
    expect(native.verdicts.map((v) => [v.id, v.verdict]).sort()).toEqual([
      [10, NF_DROP],
      [11, NF_ACCEPT],
      [12, NF_DROP],
    ]);
    expect(queue.outstandingCount).toBe(0);
    expect(() => held[0]!.accept()).toThrow(VerdictAlreadyGivenError);
    expect(() => queue.verdictBatch(100, Verdict.Accept)).toThrow(QueueClosedError);
  });

  it('gives the default verdict to packets of batches the binding had not handed over yet', async () => {
    const { queue, native } = await openFakeQueue({ defaultVerdict: 'drop' });
    const seen: number[] = [];
    queue.on('packet', (packet) => {
      seen.push(packet.id);
      packet.accept();
    });
    native.deliver(packetMessage(1));
    native.receiveWithoutHandingOver(packetMessage(2), packetMessage(3));
    await queue.close();
    native.notifyWithoutBatch(); // the late notification of the batch close() took: ignored
    expect(seen).toEqual([1]);
    expect(native.verdicts.map((v) => [v.id, v.verdict])).toEqual([
      [1, NF_ACCEPT],
      [2, NF_DROP],
      [3, NF_DROP],
    ]);
  });

  it('accepts by default and ends a waiting async iterator on close', async () => {
    const { queue, native } = await openFakeQueue();
    const iterator = queue[Symbol.asyncIterator]();
    native.deliver(packetMessage(20));
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const waiting = iterator.next();
    await queue.close();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.id, v.verdict])).toEqual([[20, NF_ACCEPT]]);
    expect(first.value!.hasVerdict).toBe(true);
  });

  it('stops delivering when a handler closes the queue mid-batch; the rest get the default verdict', async () => {
    const { queue, native } = await openFakeQueue();
    const seen: number[] = [];
    queue.on('packet', (packet) => {
      seen.push(packet.id);
      packet.drop();
      void queue.close();
    });
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    await queue.close();
    expect(seen).toEqual([1]);
    expect(native.verdicts.map((v) => [v.id, v.verdict])).toEqual([
      [1, NF_DROP],
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
    ]);
  });

  it('gives the default verdict to a packet whose handler threw, and reports the error', async () => {
    const { queue, native } = await openFakeQueue();
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    queue.on('packet', (packet) => {
      if (packet.id === 2) throw new Error('handler bug');
      packet.drop();
    });
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    expect(errors.map((error) => error.name)).toEqual(['PacketHandlerError']);
    expect((errors[0] as PacketHandlerError).cause).toMatchObject({ message: 'handler bug' });
    expect(decodeVerdicts(native.sent[0]!).map((v) => [v.id, v.verdict])).toEqual([
      [1, NF_DROP],
      [2, NF_ACCEPT],
      [3, NF_DROP],
    ]);
  });

  it('reports a thrown value that has no text form as a PacketHandlerError, once per packet', async () => {
    const { queue, native } = await openFakeQueue();
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const unreadable = new Error('x');
    Object.defineProperty(unreadable, 'message', {
      get() {
        throw new Error('getter');
      },
    });
    queue.on('packet', (packet) => {
      throw packet.id === 1 ? Object.create(null) : unreadable;
    });
    native.deliver(packetMessage(1), packetMessage(2));
    expect(errors.map((error) => error.name)).toEqual(['PacketHandlerError', 'PacketHandlerError']);
    expect(errors[0]!.message).toContain('packet 1 (a value with no text form)');
    expect(errors[1]!.message).toContain('packet 2 (an error whose message cannot be read)');
    expect(errors.every((error) => (error as PacketHandlerError).defaultVerdictGiven)).toBe(true);
    // Both got the default verdict: one VERDICT_BATCH up to id 2.
    expect(native.sent.flatMap((sent) => decodeVerdicts(sent)).map((v) => [v.id, v.verdict])).toEqual([[2, NF_ACCEPT]]);
  });

  it('reports a verdict the kernel refused, naming the packet', async () => {
    const { queue, native } = await openFakeQueue();
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const refused = buildVerdict({ queue: 3, id: 99, verdict: NF_ACCEPT });
    const errorMessage = Buffer.alloc(16 + 4 + refused.length);
    errorMessage.writeUInt32LE(errorMessage.length, 0); // nlmsg_len
    errorMessage.writeUInt16LE(2, 4); // NLMSG_ERROR
    errorMessage.writeInt32LE(-2, 16); // -ENOENT
    errorMessage.set(refused, 20); // the whole request echoed
    const ack = Buffer.alloc(36);
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4);
    ack.writeUInt16LE(NLM_F_CAPPED, 6);
    ack.writeUInt32LE(16, 20); // echoed header: nlmsg_len 16; error 0 = acknowledgement, not reported
    native.deliver(errorMessage, ack);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(VerdictRejectedError);
    expect((errors[0] as VerdictRejectedError).code).toBe('ENOENT');
    expect((errors[0] as VerdictRejectedError).packetId).toBe(99);
  });

  it('reports a receive error and a malformed batch through the error event', async () => {
    const { queue, native } = await openFakeQueue();
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    native.fail(Object.assign(new Error('recvmmsg failed'), { code: 'EIO' }));
    native.deliver(packetMessage(1).subarray(0, 10));
    expect(errors.map((error) => error.name)).toEqual(['KernelError', 'NetlinkDecodeError']);
  });

  it('gives one VERDICT_BATCH to every waiting packet up to an id', async () => {
    const { queue, native } = await openFakeQueue();
    const held: Packet[] = [];
    queue.on('packet', (packet) => held.push(packet));
    native.deliver(packetMessage(1), packetMessage(2), packetMessage(3));
    queue.verdictBatch(2, Verdict.Accept, { mark: 5 });
    expect(held.map((packet) => packet.hasVerdict)).toEqual([true, true, false]);
    expect(() => held[0]!.drop()).toThrow(VerdictAlreadyGivenError);
    await settle();
    expect(decodeVerdicts(native.sent[0]!)).toEqual([
      { type: nfqMessageType(NFQNL_MSG_VERDICT_BATCH), queue: 3, id: 2, verdict: NF_ACCEPT, mark: 5 },
    ]);
    expect(queue.outstandingCount).toBe(1);
  });

  it('rejects openQueue with the native error when the queue is already bound', async () => {
    const { binding } = createFakeBinding();
    const first = await openQueue({ queue: 0 }, { binding });
    const error = await openQueue({ queue: 0 }, { binding }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QueueAlreadyBoundError);
    expect(error).toMatchObject({ code: 'EPERM', errno: 1 });
    await first.close();
    const again = await openQueue({ queue: 0 }, { binding });
    expect(again.queueNum).toBe(0);
  });
});

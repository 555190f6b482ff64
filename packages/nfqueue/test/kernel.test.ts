/**
 * Kernel tests: real queues, real iptables rules, real UDP, each test in its own network
 * namespace. They need root (CAP_NET_ADMIN), iproute2, iptables and the built native binding.
 * They are never skipped: a machine that cannot run them fails them.
 */
import { describe, expect, it } from 'vitest';
import { type Packet, type Queue, QueueAlreadyBoundError, Verdict, openQueue } from '../src/index.js';
import { type TestNamespace, iptables, ruleCounter, sleep, udpReceiver, udpSend, until, withNamespace } from '@nfq/test-kit';
import { openQueuedUdp } from './queued-udp.js';

const PORT = 9999;
const QUEUE_NUM = 0;

/** Queues local UDP to PORT on QUEUE_NUM and opens that queue (in copy mode packet) inside the namespace. */
const queuedUdp = (ns: TestNamespace): Promise<Queue> => openQueuedUdp(ns, PORT, { queue: QUEUE_NUM, copyMode: 'packet' });

/** The UDP payload inside an IPv4 packet. */
function udpPayloadOf(ipv4: Uint8Array): Buffer {
  const headerLength = (ipv4[0]! & 0x0f) * 4;
  return Buffer.from(ipv4.subarray(headerLength + 8));
}

/** A copy of an IPv4 UDP packet with its UDP payload replaced (same length) and the UDP checksum set to 0 (none). */
function withUdpPayload(ipv4: Uint8Array, replacement: Uint8Array): Buffer {
  const packet = Buffer.from(ipv4);
  const headerLength = (packet[0]! & 0x0f) * 4;
  if (packet.length - headerLength - 8 !== replacement.length) throw new Error('replacement must keep the length');
  packet.set(replacement, headerLength + 8);
  packet.writeUInt16BE(0, headerLength + 6); // UDP checksum 0: "no checksum" for IPv4
  return packet;
}

describe('kernel: a real queue in a private namespace', () => {
  it('delivers queued packets, and accepted ones arrive', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      expect(queue.queueNum).toBe(QUEUE_NUM);
      const packets: Array<{ id: number; hook: number; hwProtocol: number; payload: Buffer }> = [];
      queue.on('packet', (packet) => {
        packets.push({ id: packet.id, hook: packet.hook, hwProtocol: packet.hwProtocol, payload: Buffer.from(packet.payload) });
        packet.accept();
      });
      const sent = ['alpha', 'bravo', 'charlie'].map((text) => Buffer.from(text));
      expect(await udpSend(ns.name, PORT, sent)).toEqual([null, null, null]);
      const received = await receiver.waitFor(3);
      expect(received.map(String)).toEqual(['alpha', 'bravo', 'charlie']);
      expect(packets).toHaveLength(3);
      expect(new Set(packets.map((packet) => packet.id)).size).toBe(3);
      for (const [index, packet] of packets.entries()) {
        expect(packet.hook).toBe(3); // NF_INET_LOCAL_OUT
        expect(packet.hwProtocol).toBe(0x0800);
        expect(packet.payload[0]! >> 4).toBe(4); // IPv4
        expect(udpPayloadOf(packet.payload).equals(sent[index]!)).toBe(true);
      }
      expect(queue.stats().received).toBeGreaterThanOrEqual(3);
    }));

  it('drops the packets it is told to drop', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      queue.on('packet', (packet: Packet) => {
        if (udpPayloadOf(packet.payload).toString().startsWith('drop')) packet.drop();
        else packet.accept();
      });
      await udpSend(ns.name, PORT, ['drop-1', 'keep-1', 'drop-2', 'keep-2'].map((text) => Buffer.from(text)));
      await receiver.waitFor(2);
      await sleep(300); // time for a wrongly accepted datagram to show up
      expect(receiver.received.map(String)).toEqual(['keep-1', 'keep-2']);
    }));

  it('reinjects a rewritten payload', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      queue.on('packet', (packet) => packet.accept({ payload: withUdpPayload(packet.payload, Buffer.from('WORLD')) }));
      await udpSend(ns.name, PORT, [Buffer.from('hello')]);
      const [datagram] = await receiver.waitFor(1);
      expect(datagram!.toString()).toBe('WORLD');
    }));

  it('sets the mark given with the verdict', () =>
    withNamespace(async (ns) => {
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '42');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      const marksSeen: Array<number | undefined> = [];
      queue.on('packet', (packet) => {
        marksSeen.push(packet.mark);
        packet.accept({ mark: 42 });
      });
      await udpSend(ns.name, PORT, [Buffer.from('m1'), Buffer.from('m2'), Buffer.from('m3')]);
      await receiver.waitFor(3);
      expect(marksSeen).toEqual([undefined, undefined, undefined]); // unmarked on the way in: absent, not 0
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x2a')).toBe(3);
    }));

  it('gives the default verdict to held packets on close', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, PORT, [Buffer.from('held-1'), Buffer.from('held-2')]);
      await until(() => held.length >= 2);
      expect(held).toHaveLength(2);
      expect(receiver.received).toHaveLength(0); // nothing passes without a verdict
      await queue.close();
      const received = await receiver.waitFor(2);
      expect(received.map(String)).toEqual(['held-1', 'held-2']);
    }));

  it('sends a packet to a second queue, which gets it and verdicts it', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const first = await queuedUdp(ns);
      const second = await openQueue({ queue: 5, netns: ns.name });
      ns.defer(() => second.close());
      const seenBySecond: Array<{ queueNum: number; payload: string }> = [];
      first.on('packet', (packet) => packet.queue(5));
      second.on('packet', (packet) => {
        seenBySecond.push({ queueNum: packet.queueNum, payload: udpPayloadOf(packet.payload).toString() });
        packet.accept();
      });
      await udpSend(ns.name, PORT, [Buffer.from('hop')]);
      const [datagram] = await receiver.waitFor(1);
      expect(datagram!.toString()).toBe('hop');
      expect(seenBySecond).toEqual([{ queueNum: 5, payload: 'hop' }]);
    }));

  it('releases every held id up to one with verdictBatch', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, PORT, ['b1', 'b2', 'b3', 'b4'].map((text) => Buffer.from(text)));
      await until(() => held.length >= 4);
      expect(held).toHaveLength(4);
      queue.verdictBatch(held[2]!.id, Verdict.Accept);
      expect(held.map((packet) => packet.hasVerdict)).toEqual([true, true, true, false]);
      expect((await receiver.waitFor(3)).map(String)).toEqual(['b1', 'b2', 'b3']);
      expect(() => held[0]!.accept()).toThrow(); // already verdicted by the batch
      held[3]!.drop();
      await sleep(300);
      expect(receiver.received.map(String)).toEqual(['b1', 'b2', 'b3']);
      expect(queue.outstandingCount).toBe(0);
    }));

  it('accepts a held packet verdicted later, after a newer one', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      const held: Packet[] = [];
      queue.on('packet', (packet) => {
        if (udpPayloadOf(packet.payload).toString() === 'late') held.push(packet);
        else packet.accept();
      });
      await udpSend(ns.name, PORT, [Buffer.from('late'), Buffer.from('early')]);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['early']);
      await sleep(200);
      expect(held).toHaveLength(1);
      setTimeout(() => held[0]!.accept(), 50); // a verdict given outside any batch callback
      expect((await receiver.waitFor(2)).map(String)).toEqual(['early', 'late']);
    }));

  it('refuses to bind a queue that another socket holds, as AlreadyBound', () =>
    withNamespace(async (ns) => {
      const first = await openQueue({ queue: 7, netns: ns.name });
      ns.defer(() => first.close());
      const error = await openQueue({ queue: 7, netns: ns.name }).then(
        (second) => {
          void second.close();
          return undefined;
        },
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(QueueAlreadyBoundError);
      // The holder is named from /proc: this very process.
      expect(error).toMatchObject({ code: 'EPERM', queue: 7, ownerPid: process.pid, ownerPortId: first.portId });
      expect((error as Error).message).toContain(`queue 7 is already bound by this process (pid ${process.pid}`);
    }));
});

/**
 * Kernel tests of the packet helpers: packets edited with `mangle` and reinjected with
 * `accept({ payload })` must be taken by the kernel, which verifies the checksums of a changed
 * packet (NFQUEUE reinjection of a new payload leaves the skb CHECKSUM_NONE). Each test runs in
 * its own network namespace; they need root, iproute2, iptables and the built native binding.
 */
import { describe, expect, it } from 'vitest';
import { type Queue, mangle, mangleIp, openQueue, parseIp, verifyChecksums } from '../src/index.js';
import { type TestNamespace, iptables, sleep, snmpCounters, udpReceiver, udpSend, until, withNamespace } from '@nfq/test-kit';
import { openQueuedUdp } from './queued-udp.js';

const PORT = 9997;
const QUEUE_NUM = 7;
const ICMP_QUEUE_NUM = 8;

/** Queues local UDP to PORT on QUEUE_NUM and opens that queue (copy mode packet) inside the namespace. */
const queuedUdp = (ns: TestNamespace): Promise<Queue> => openQueuedUdp(ns, PORT, { queue: QUEUE_NUM, copyMode: 'packet' });

/** One counter of `/proc/net/snmp` inside the namespace, e.g. ('Udp', 'InCsumErrors'). */
async function snmpCounter(ns: TestNamespace, protocol: string, counter: string): Promise<number> {
  const value = (await snmpCounters(ns.name, protocol))[counter];
  if (value === undefined) throw new Error(`no ${protocol} ${counter} in /proc/net/snmp`);
  return value;
}

/** Replaces the whole UDP payload of `packet` with `text`. */
function withUdpText(packet: Uint8Array, text: string): Buffer {
  const { l4 } = parseIp(packet);
  if (l4?.kind !== 'udp') throw new Error('expected a UDP packet');
  return mangle(packet, { offset: 0, length: l4.payload.length, replacement: Buffer.from(text) });
}

describe('kernel: mangled packets reinjected into a private namespace', () => {
  it('delivers UDP payloads mangled longer and shorter, with checksums the kernel accepts', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      const rewrites: Record<string, string> = { hello: 'hello, world!', 'good morning': 'hi' };
      const sentLengths: number[] = [];
      queue.on('packet', (packet) => {
        const { l4 } = parseIp(packet.payload);
        const original = Buffer.from(l4!.payload).toString();
        const edited = withUdpText(packet.payload, rewrites[original] ?? original);
        sentLengths.push(edited.length);
        expect(verifyChecksums(edited)).toEqual({ ipHeader: true, transport: true });
        packet.accept({ payload: edited });
      });
      const errorsBefore = await snmpCounter(ns, 'Udp', 'InCsumErrors');
      await udpSend(ns.name, PORT, [Buffer.from('hello'), Buffer.from('good morning')]);
      const received = await receiver.waitFor(2);
      expect(received.map(String)).toEqual(['hello, world!', 'hi']);
      expect(sentLengths).toEqual([20 + 8 + 13, 20 + 8 + 2]);
      expect(await snmpCounter(ns, 'Udp', 'InCsumErrors')).toBe(errorsBefore);
    }));

  it('loses a mangled datagram whose UDP checksum is wrong, counted in Udp InCsumErrors', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns);
      queue.on('packet', (packet) => {
        const edited = withUdpText(packet.payload, `${Buffer.from(parseIp(packet.payload).l4!.payload).toString()}!`);
        if (edited.includes('corrupt')) {
          const checksumOffset = 20 + 6;
          const right = edited.readUInt16BE(checksumOffset);
          edited.writeUInt16BE(right === 0x0001 ? 0x0002 : right ^ 0x0001, checksumOffset); // wrong, and never 0 ("none")
          expect(verifyChecksums(edited).transport).toBe(false);
        }
        packet.accept({ payload: edited });
      });
      const errorsBefore = await snmpCounter(ns, 'Udp', 'InCsumErrors');
      await udpSend(ns.name, PORT, [Buffer.from('corrupt'), Buffer.from('intact')]);
      const [datagram] = await receiver.waitFor(1);
      expect(datagram!.toString()).toBe('intact!');
      await sleep(200); // room for the corrupt datagram to show up, were it accepted
      expect(receiver.received.map(String)).toEqual(['intact!']);
      expect(await snmpCounter(ns, 'Udp', 'InCsumErrors')).toBe(errorsBefore + 1);
    }));

  // There is no ping on the test machines, and nothing may be installed: the echo request is made
  // from a UDP datagram instead, rewritten into ICMP by a queue in the mangle table (before filter).
  it('answers an ICMP echo request whose payload was mangled and checksum recomputed, and not one with a broken checksum', () =>
    withNamespace(async (ns) => {
      await iptables(ns.name, '-t', 'mangle', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'NFQUEUE', '--queue-num', String(QUEUE_NUM));
      await iptables(ns.name, '-A', 'OUTPUT', '-p', 'icmp', '-j', 'NFQUEUE', '--queue-num', String(ICMP_QUEUE_NUM));
      const udpQueue = await openQueue({ queue: QUEUE_NUM, netns: ns.name, copyMode: 'packet' });
      ns.defer(() => udpQueue.close());
      const icmpQueue = await openQueue({ queue: ICMP_QUEUE_NUM, netns: ns.name, copyMode: 'packet' });
      ns.defer(() => icmpQueue.close());

      udpQueue.on('packet', (packet) => {
        // Protocol 17 -> 1, then the 8-byte UDP header -> echo request, id 0x4e51, sequence 1.
        const asIcmp = mangleIp(packet.payload, { offset: 9, length: 1, replacement: Uint8Array.of(1) });
        const echoRequest = mangleIp(asIcmp, { offset: 20, length: 8, replacement: Uint8Array.of(8, 0, 0, 0, 0x4e, 0x51, 0, 1) });
        packet.accept({ payload: echoRequest });
      });
      const replies: Array<{ text: string; identifier: number; checksumsHold: boolean }> = [];
      icmpQueue.on('packet', (packet) => {
        const { l4 } = parseIp(packet.payload);
        if (l4?.kind !== 'icmp') return packet.drop();
        if (l4.type === 8) {
          const original = Buffer.from(l4.payload).toString();
          const replacement = Buffer.from(`mangled ${original} payload`);
          const edited = mangle(packet.payload, { offset: 0, length: l4.payload.length, replacement });
          if (original === 'corrupt') edited.writeUInt16BE(edited.readUInt16BE(22) ^ 0x0100, 22); // break the ICMP checksum
          packet.accept({ payload: edited });
          return;
        }
        replies.push({ text: Buffer.from(l4.payload).toString(), identifier: l4.identifier, checksumsHold: verifyChecksums(packet.payload).transport === true });
        packet.accept();
      });

      const before = await Promise.all(['InEchos', 'OutEchoReps', 'InEchoReps', 'InCsumErrors'].map((name) => snmpCounter(ns, 'Icmp', name)));
      expect(await udpSend(ns.name, PORT, [Buffer.from('corrupt'), Buffer.from('ping')])).toEqual([null, null]);
      await until(() => replies.length > 0);
      await sleep(200); // room for a reply to the corrupt request, were it answered; and for the counters
      // Only the request with the recomputed checksum is answered; the kernel echoes its mangled data.
      expect(replies).toEqual([{ text: 'mangled ping payload', identifier: 0x4e51, checksumsHold: true }]);
      const after = await Promise.all(['InEchos', 'OutEchoReps', 'InEchoReps', 'InCsumErrors'].map((name) => snmpCounter(ns, 'Icmp', name)));
      expect(after).toEqual([before[0]! + 1, before[1]! + 1, before[2]! + 1, before[3]! + 1]);
    }));
});

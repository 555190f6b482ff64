/**
 * Kernel tests of the verdict path: invalid verdicts refused before sending (the packets keep
 * waiting and still get a verdict), verdicts leaving in the order they were given, a send the
 * kernel refuses for want of CAP_NET_ADMIN reported whole and not resent, a throwing handler with no 'error'
 * listener not taking the traffic down, copy mode 'none' refused. Real packets, each test in its
 * own network namespace. Never skipped.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, InvalidVerdictError, type Packet, openQueue, queueStats } from '../src/index.js';
import { queueUdpTo, startProcess, udpReceiver, udpSend, until, withNamespace } from '@nfq/test-kit';

const DIST = JSON.stringify(new URL('../dist/index.js', import.meta.url).href);

describe('kernel: verdicts are checked before anything is sent', () => {
  it('refuses verdictBatch(id, 99 / NF_STOLEN / 6): the packets keep waiting, then pass by the default verdict', () =>
    withNamespace(async (ns) => {
      const port = 9301;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      await queueUdpTo(ns.name, port, 31);
      const queue = await openQueue({ queue: 31, netns: ns.name, verdictTimeout: 300 });
      ns.defer(() => queue.close());
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, port, ['a', 'b', 'c'].map((s) => Buffer.from(s)));
      await until(() => held.length === 3);
      const last = held[2]!.id;
      for (const verdict of [99, 2, 6]) {
        expect(() => queue.verdictBatch(last, verdict)).toThrow(InvalidVerdictError);
      }
      expect(queue.outstandingCount).toBe(3); // nothing was marked verdicted
      // verdictTimeout gives them the default verdict (accept): they arrive, nothing stays queued.
      expect((await receiver.waitFor(3)).map(String)).toEqual(['a', 'b', 'c']);
      await until(() => queue.kernelStats()?.waiting === 0);
      expect(queue.stats().defaultVerdicts.timeout).toBe(3);
      expect(queue.stats().verdictsRejected).toBe(0); // the kernel never saw the bad verdicts
    }));

  it('refuses a short or malformed replacement payload; the packet then takes a valid verdict and arrives', () =>
    withNamespace(async (ns) => {
      const port = 9302;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      await queueUdpTo(ns.name, port, 32);
      const queue = await openQueue({ queue: 32, netns: ns.name });
      ns.defer(() => queue.close());
      const refused: unknown[] = [];
      queue.on('packet', (packet) => {
        const longer = Buffer.from(packet.payload);
        longer.writeUInt16BE(longer.length + 100, 2); // total length beyond the bytes
        for (const payload of [Buffer.alloc(0), Buffer.alloc(10, 0x45), longer]) {
          try {
            packet.accept({ payload });
          } catch (error) {
            refused.push(error);
          }
        }
        packet.accept(); // still waiting: takes its verdict
      });
      await udpSend(ns.name, port, [Buffer.from('kept')]);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['kept']);
      expect(refused).toHaveLength(3);
      for (const error of refused) expect(error).toBeInstanceOf(InvalidVerdictError);
      expect(queue.stats().verdicts.accept).toBe(1);
    }));

  it("refuses copyMode 'none' (the kernel would drop every matched packet) before binding", () =>
    withNamespace(async (ns) => {
      const port = 9303;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      const error = await openQueue({ queue: 33, netns: ns.name, copyMode: 'none' as 'meta' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(/'meta' for metadata only/);
      // Nothing was bound: the queue is free for a consumer with copy mode 'meta'.
      await queueUdpTo(ns.name, port, 33);
      const queue = await openQueue({ queue: 33, netns: ns.name, copyMode: 'meta' });
      ns.defer(() => queue.close());
      queue.on('packet', (packet) => packet.accept());
      await udpSend(ns.name, port, [Buffer.from('meta')]);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['meta']);
    }));
});

describe('kernel: verdicts leave in the order they were given', () => {
  it('datagrams verdicted three-then-two arrive three-then-two', () =>
    withNamespace(async (ns) => {
      const port = 9304;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      await queueUdpTo(ns.name, port, 34);
      const queue = await openQueue({ queue: 34, netns: ns.name });
      ns.defer(() => queue.close());
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, port, ['two', 'three'].map((s) => Buffer.from(s)));
      await until(() => held.length === 2);
      const [two, three] = held;
      three!.accept(); // one event-loop turn: three first, then two
      two!.accept();
      expect((await receiver.waitFor(2)).map(String)).toEqual(['three', 'two']);
    }));
});

describe('kernel: a verdict the kernel refuses', () => {
  it('after CAP_NET_ADMIN is lost: one error accounts for every verdict of the refused send, nothing is resent, no loop', () =>
    withNamespace(async (ns) => {
      const port = 9305;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      await queueUdpTo(ns.name, port, 35);
      // Five packets held, then verdicted in reverse id order: one flush, one send of five VERDICT
      // messages. nfnetlink answers only the first with EPERM and drops the other four unanswered.
      const script = `
        const { openQueue } = await import(${DIST});
        const queue = await openQueue({ queue: 35, netns: process.argv[1] });
        queue.on('error', (error) => console.log(JSON.stringify({ name: error.name, code: error.code, outcome: error.outcome,
          packetIds: error.packetIds, refusedMessages: error.refusedMessages, message: error.message })));
        const held = [];
        queue.on('packet', (packet) => {
          held.push(packet);
          if (held.length < 5) return;
          for (const p of [...held].reverse()) p.accept();
          console.log(JSON.stringify({ verdicted: held.map((p) => p.id).reverse() }));
        });
        process.setgid(65534);
        process.setuid(65534); // every capability gone: nfnetlink refuses each send with EPERM
        console.log(JSON.stringify({ ready: true }));
        setInterval(() => {
          const stats = queue.stats();
          console.log(JSON.stringify({ sends: stats.native.verdictSends, rejected: stats.verdictsRejected,
            packets: stats.packetsRejected, defaults: stats.defaultVerdicts.rejected }));
        }, 100);`;
      const { child, stdout, stderr } = startProcess(process.execPath, ['--input-type=module', '-e', script, ns.name]);
      ns.defer(() => child.kill('SIGKILL'));
      await until(() => stdout().includes('ready') || child.exitCode !== null);
      expect(stdout(), stderr()).toContain('ready');
      await udpSend(ns.name, port, ['a', 'b', 'c', 'd', 'e'].map((s) => Buffer.from(s)));
      const lines = (): Array<Record<string, unknown>> => stdout().trim().split('\n').map((line) => JSON.parse(line));
      const errors = (): Array<Record<string, unknown>> => lines().filter((line) => line.name);
      await until(() => errors().length >= 1, { timeoutMs: 10_000 });
      const verdicted = lines().find((line) => line.verdicted)?.verdicted as number[];
      expect(verdicted).toHaveLength(5);
      const [error] = errors();
      expect(error).toMatchObject({ name: 'VerdictRejectedError', code: 'EPERM', outcome: 'send-refused', refusedMessages: 5 });
      expect(error!.packetIds).toEqual(verdicted); // all five, in the order they were sent
      expect(error!.message).toMatch(/^the kernel refused a whole send of 5 verdict messages \(packets [\d, ]+\) with EPERM: this process lacks CAP_NET_ADMIN/);
      expect(error!.message).toMatch(/dropPrivileges\(\).*nothing was resent.*the packets stay queued in the kernel until the queue closes/);
      // No loop: the one send stays the only one, and the one error the only error.
      const stats = (): Record<string, unknown> | undefined => lines().filter((line) => line.sends !== undefined).at(-1);
      const before = lines().length;
      await until(() => lines().length >= before + 10);
      expect(stats()).toEqual({ sends: 1, rejected: 5, packets: 5, defaults: 0 });
      expect(errors()).toHaveLength(1);
      // The kernel still holds all five (none got a verdict), and none arrived.
      const [row] = queueStats({ netns: ns.name }).filter((line) => line.queue === 35);
      expect(row?.waiting).toBe(5);
      expect(receiver.received).toHaveLength(0);
    }), 30_000);
});

describe('kernel: a throwing handler with no error listener', () => {
  it('keeps serving: the process stays alive, a warning goes to stderr, every datagram arrives', () =>
    withNamespace(async (ns) => {
      const port = 9306;
      const receiver = await udpReceiver(ns.name, port);
      ns.defer(() => receiver.close());
      await queueUdpTo(ns.name, port, 36);
      const script = `
        const { openQueue } = await import(${DIST});
        const queue = await openQueue({ queue: 36, netns: process.argv[1] });
        let n = 0;
        queue.on('packet', (packet) => {
          if (++n % 2 === 0) throw new Error('handler bug ' + n); // no 'error' listener anywhere
          packet.accept();
        });
        console.log('ready');
        setInterval(() => console.log('alive ' + queue.stats().received), 100);`;
      const { child, stdout, stderr } = startProcess(process.execPath, ['--input-type=module', '-e', script, ns.name]);
      ns.defer(() => child.kill('SIGKILL'));
      await until(() => stdout().includes('ready') || child.exitCode !== null);
      expect(stdout(), stderr()).toContain('ready');
      const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`d${i}`));
      await udpSend(ns.name, port, payloads);
      // The failing packets got the default verdict (accept): all ten arrive.
      expect((await receiver.waitFor(10)).map(String).sort()).toEqual(payloads.map(String).sort());
      await until(() => stdout().includes('alive 10'));
      expect(child.exitCode).toBeNull(); // still running
      expect(stderr()).toMatch(/NfqueueWarning: queue 36: PacketHandlerError: the handler failed for packet \d+ \(handler bug 2\)/);
      await udpSend(ns.name, port, [Buffer.from('later')]);
      expect((await receiver.waitFor(11)).map(String)).toContain('later');
      expect(child.exitCode).toBeNull();
    }));
});


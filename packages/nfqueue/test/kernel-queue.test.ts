/**
 * Kernel tests of the high-level API: every verdict kind and option on real packets, each test in
 * its own network namespace (made and always removed by withNamespace). Never skipped.
 */
import { describe, expect, it } from 'vitest';
import {
  type Packet,
  PacketHandlerError,
  type Queue,
  type QueueOptions,
  VerdictAlreadyGivenError,
  openQueue,
  queueStats,
} from '../src/index.js';
import {
  type TestNamespace,
  asNobody,
  boundQueues,
  inNamespace,
  iptables,
  queueUdpTo,
  ruleCounter,
  run,
  sleep,
  startProcess,
  udpReceiver,
  udpSend,
  until,
  withNamespace,
} from '@nfq/test-kit';
import { openQueuedUdp } from './queued-udp.js';

const PORT = 9999;

/** Adds the rule that queues UDP to `port` (sent inside `ns`) to queue `queue`. */
const queueUdp = (ns: TestNamespace, queue: number, port = PORT): Promise<string> => queueUdpTo(ns.name, port, queue);

/** Queues local UDP to PORT on queue `options.queue` inside `ns` and opens that queue there. */
const queuedUdp = (ns: TestNamespace, options: Omit<QueueOptions, 'netns'>): Promise<Queue> => openQueuedUdp(ns, PORT, options);

const text = (packet: Packet): string => {
  const ihl = (packet.payload[0]! & 0x0f) * 4;
  return packet.payload.subarray(ihl + 8).toString();
};

/** The IPv4/UDP packet with its UDP payload replaced by `replacement` of the same length, UDP checksum 0. */
function rewritten(packet: Packet, replacement: string): Buffer {
  const copy = Buffer.from(packet.payload);
  const ihl = (copy[0]! & 0x0f) * 4;
  copy.write(replacement, ihl + 8);
  copy.writeUInt16BE(0, ihl + 6);
  return copy;
}


describe('kernel: the high-level queue API', () => {
  it('runs the README script unchanged: for await, drop, accept with mark or payload, late verdicts, break and close', () =>
    withNamespace(async (ns) => {
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '42');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 7);
      const sent = ['bad-1', 'mark', 'swap', 'late', 'plain', 'stop'];
      const sending = udpSend(ns.name, PORT, sent.map((s) => Buffer.from(s)));

      const queue = await openQueue({ queue: 7, copyMode: 'packet', netns: ns.name });
      const late: Promise<void>[] = [];
      for await (const packet of queue) {
        expect(typeof packet.id).toBe('number');
        expect(packet.hook).toBe(3);
        expect(Buffer.isBuffer(packet.payload)).toBe(true);
        const body = text(packet);
        if (body.startsWith('bad')) packet.drop();
        else if (body === 'mark') packet.accept({ mark: 42 });
        else if (body === 'swap') packet.accept({ payload: rewritten(packet, 'SWAP') });
        else if (body === 'late') late.push(sleep(50).then(() => packet.accept())); // iteration goes on meanwhile
        else packet.accept();
        if (body === 'stop') break; // leaving the loop closes the queue
      }
      await queue.close(); // idempotent: the same promise as the one break started
      await Promise.all(late);
      await sending;
      const received = (await receiver.waitFor(5)).map(String);
      expect(received.sort()).toEqual(['SWAP', 'late', 'mark', 'plain', 'stop']);
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x2a')).toBe(1);
      expect(queue.stats().verdicts).toMatchObject({ accept: 5, drop: 1 });
    }));

  it('keeps the bytes of held packets until their verdict, over more batches than there are receive banks', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns, { queue: 3 });
      const count = 60;
      // Two ids in three: the handler takes a view of the payload at once, so those bytes must stay
      // where they are (40 packets: more than the 32 banks the binding makes); every third: nothing
      // is read until the verdict, so the queue may move its bytes.
      const held: Array<{ packet: Packet; view: Buffer | undefined }> = [];
      queue.on('packet', (packet) => void held.push({ packet, view: packet.id % 3 !== 0 ? packet.payload : undefined }));
      const bodies: string[] = [];
      const verdictHeld = (): void => {
        for (const { packet, view } of held.splice(0)) {
          const payload = view ?? packet.payload;
          const ihl = (payload[0]! & 0x0f) * 4;
          bodies.push(`${packet.id}:${payload.subarray(ihl + 8).toString()}`);
          packet.accept();
        }
      };
      // One datagram per batch, none verdicted until all are sent: each batch needs a bank of its
      // own, so held packets are moved, and reading waits once every bank holds a view.
      for (let i = 1; i <= count; i++) await udpSend(ns.name, PORT, [Buffer.from(`held-${i}`)]);
      await until(() => {
        verdictHeld();
        return queue.stats().received === count;
      });
      verdictHeld();
      expect(bodies).toEqual(Array.from({ length: count }, (_, i) => `${i + 1}:held-${i + 1}`));
      expect((await receiver.waitFor(count)).map(String).sort()).toEqual(Array.from({ length: count }, (_, i) => `held-${i + 1}`).sort());
      expect(queue.stats().relocated).toBeGreaterThan(0);
      expect(queue.outstandingCount).toBe(0);
    }));

  it('gives the default verdict when a handler throws or rejects, and reports it', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const accepting = await queuedUdp(ns, { queue: 2 });
      const errors: Error[] = [];
      accepting.on('error', (error) => errors.push(error));
      accepting.on('packet', (packet) => {
        if (text(packet) === 'throw') throw new Error('sync bug');
        return Promise.reject(new Error('async bug'));
      });
      await udpSend(ns.name, PORT, [Buffer.from('throw'), Buffer.from('reject')]);
      expect((await receiver.waitFor(2)).map(String).sort()).toEqual(['reject', 'throw']); // default: accept
      await until(() => errors.length === 2);
      expect(errors.every((e) => e instanceof PacketHandlerError)).toBe(true);
      expect(errors.map((e) => (e.cause as Error).message).sort()).toEqual(['async bug', 'sync bug']);
      expect(accepting.stats().defaultVerdicts.handlerError).toBe(2);
    }));

  it('drops on handler failure with defaultVerdict drop (fail closed)', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns, { queue: 3, defaultVerdict: 'drop' });
      queue.on('error', () => {});
      queue.on('packet', async (packet) => {
        if (text(packet) === 'ok') packet.accept();
        else throw new Error('reject');
      });
      await udpSend(ns.name, PORT, [Buffer.from('no'), Buffer.from('ok')]);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['ok']);
      await sleep(300);
      expect(receiver.received.map(String)).toEqual(['ok']);
    }));

  it('gives the default verdict to a packet held past verdictTimeout, and counts it', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns, { queue: 4, verdictTimeout: 200 });
      const held: Packet[] = [];
      const timedOut: number[] = [];
      queue.on('timeout', (packet) => timedOut.push(packet.id));
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, PORT, [Buffer.from('forgotten')]);
      await until(() => held.length === 1);
      expect(receiver.received).toHaveLength(0);
      expect((await receiver.waitFor(1, 3_000)).map(String)).toEqual(['forgotten']);
      expect(timedOut).toEqual([held[0]!.id]);
      expect(queue.stats().timeouts).toBe(1);
      expect(held[0]!.verdictSource).toBe('timeout');
      expect(() => held[0]!.drop()).toThrow(VerdictAlreadyGivenError);
    }));

  it('waits for held verdicts on close up to drainTimeout, then gives the rest the default', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns, { queue: 5, drainTimeout: 400, defaultVerdict: 'drop' });
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, PORT, [Buffer.from('answered'), Buffer.from('ignored')]);
      await until(() => held.length === 2);
      const closing = queue.close();
      setTimeout(() => held[0]!.accept(), 100); // answered during the drain
      await closing;
      expect(held.map((p) => p.verdictSource)).toEqual(['handler', 'close']);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['answered']);
      await sleep(200);
      expect(receiver.received.map(String)).toEqual(['answered']); // the other got the default: drop
      expect(queue.stats().defaultVerdicts.close).toBe(1);
    }));

  it('closes on abort: the loop ends and held packets get the default verdict', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const controller = new AbortController();
      const queue = await queuedUdp(ns, { queue: 6, signal: controller.signal, drainTimeout: 0 });
      await udpSend(ns.name, PORT, [Buffer.from('held')]);
      const seen: string[] = [];
      for await (const packet of queue) {
        seen.push(text(packet));
        controller.abort(); // packet deliberately left without a verdict
      }
      expect(seen).toEqual(['held']);
      expect(queue.closed).toBe(true);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['held']);
    }));

  it('hands over whole batches with batches(), and names devices', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const queue = await queuedUdp(ns, { queue: 8, copyRange: 30 });
      await udpSend(ns.name, PORT, ['a', 'b', 'c', 'd'].map((s) => Buffer.from(s.repeat(40))));
      let count = 0;
      for await (const batch of queue.batches()) {
        for (const packet of batch) {
          expect(packet.outdevName).toBe('lo');
          expect(packet.payload).toHaveLength(30);
          expect(packet.cutByCopyRange).toBe(true);
          expect(packet.capLen).toBe(68);
          expect(packet.toString()).toMatch(/^truncated packet received \(id=\d+ hw=0x0800 hook=3, payload len 30\)$/);
          expect(packet.toJSON()).toMatchObject({ hookName: 'OUTPUT', outdevName: 'lo', payloadLength: 30, cutByCopyRange: true });
          expect(packet.toXml({ time: false })).toMatch(/^<pkt><hook>3<\/hook><id>\d+<\/id><hw><proto>0800<\/proto><\/hw><outdev>1<\/outdev><payload>45[0-9a-f]{58}<\/payload><\/pkt>$/);
          packet.accept();
          count++;
        }
        if (count >= 4) break;
      }
      expect((await receiver.waitFor(4)).length).toBe(4);
    }));

  it.each([
    ['the event loop', false],
    ['a reader thread', true],
  ])('reports socket overruns as an overrun event and keeps going (receiving on %s)', (_, readerThread) =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      // A tiny socket buffer, and reading paused (highWaterMark 1) while the first packet is held:
      // the flood overflows the socket for certain.
      const queue = await queuedUdp(ns, { queue: 9, receiveBufferSize: 4096, highWaterMark: 1, readerThread });
      const overruns: number[] = [];
      queue.on('overrun', ({ count }) => overruns.push(count));
      const held: Packet[] = [];
      queue.on('packet', (packet) => held.push(packet));
      await udpSend(ns.name, PORT, Array.from({ length: 100 }, (_, i) => Buffer.from(`flood ${i}`)));
      await until(() => held.length > 0);
      expect(queue.stats().pauses).toBeGreaterThan(0);
      for (const packet of held.splice(0)) packet.accept(); // reading resumes: ENOBUFS is met and counted
      await udpSend(ns.name, PORT, [Buffer.from('after the storm')]);
      // Keep verdicting what still arrives of the flood (each held packet pauses reading again).
      await until(() => {
        for (const packet of held) if (!packet.hasVerdict && text(packet) !== 'after the storm') packet.accept();
        return held.some((p) => text(p) === 'after the storm');
      });
      for (const packet of held) if (!packet.hasVerdict) packet.accept();
      await until(() => receiver.received.some((d) => String(d) === 'after the storm'));
      expect(overruns.length).toBeGreaterThan(0);
      expect(queue.stats().overruns).toBe(overruns.reduce((a, b) => a + b, 0));
      expect(queue.kernelStats()?.userDropped).toBeGreaterThan(0); // the kernel's own count of the same loss
    }));

  it.each([
    ['the event loop', false],
    ['a reader thread', true],
  ])('survives an ENOBUFS storm (receiving on %s)', (_, readerThread) =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 15);
      // The consumer, in a process of its own: a 4 KB socket buffer (a few messages) and no
      // NO_ENOBUFS, so a flood overflows it again and again. It answers each line on stdin with
      // 'stop' with its counters. (Memory under load is measured by bench/soak.mjs over millions
      // of packets, where a leak stands out of this machine's RSS noise of a few MB.)
      const consumer = `
        const { createInterface } = await import('node:readline');
        const { openQueue } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        const queue = await openQueue({ queue: 15, netns: process.argv[1], receiveBufferSize: 4096, readerThread: ${readerThread} });
        let overrunEvents = 0;
        queue.on('packet', (packet) => packet.accept());
        queue.on('overrun', () => overrunEvents++);
        console.log(JSON.stringify({ ready: true }));
        for await (const line of createInterface({ input: process.stdin })) {
          if (line !== 'stop') continue;
          const stats = queue.stats();
          const kernel = queue.kernelStats();
          await queue.close();
          console.log(JSON.stringify({ received: stats.received, overruns: stats.overruns, overrunEvents, held: stats.held, userDropped: kernel.userDropped }));
          process.exit(0);
        }
      `;
      const { createInterface } = await import('node:readline');
      const { child, stderr } = startProcess(process.execPath, ['--input-type=module', '-e', consumer, ns.name]);
      ns.defer(() => child.kill('SIGKILL'));
      const lines: Array<Record<string, number>> = [];
      createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, number>));
      const answer = async (request: string): Promise<Record<string, number>> => {
        const before = lines.length;
        child.stdin.write(`${request}\n`);
        await until(() => lines.length > before || child.exitCode !== null, { timeoutMs: 10_000 });
        expect(lines.length, stderr()).toBeGreaterThan(before);
        return lines[lines.length - 1]!;
      };
      // The flood: `count` 64-byte datagrams, 256 at a time, as fast as the socket takes them.
      const storm = (count: number): Promise<Array<string | null>> => udpSend(ns.name, PORT, Array(count).fill(Buffer.alloc(64, 'x')), { inFlight: 256 });
      await until(() => lines.length > 0 || child.exitCode !== null);
      expect(lines[0], stderr()).toEqual({ ready: true });
      for (let round = 0; round < 5; round++) await storm(20_000);
      await udpSend(ns.name, PORT, [Buffer.from('after the storm')]);
      // The queue kept working: the datagram sent after the storm went through it.
      await until(() => receiver.received.some((d) => String(d) === 'after the storm'));
      const report = await answer('stop');
      expect(report.overruns, JSON.stringify(report)).toBeGreaterThan(0); // the storm happened, and was counted
      expect(report.overrunEvents).toBeGreaterThan(0);
      expect(report.userDropped).toBeGreaterThan(0); // the kernel's count of the same loss
      expect(report.held).toBe(0); // every packet read got its verdict
      expect(report.received).toBeGreaterThan(0);
    }), 60_000);

  it('with failOpen, traffic keeps flowing past a stalled consumer; without, the kernel counts drops', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 10);
      await queueUdp(ns, 11, PORT + 1);
      const open = await openQueue({ queue: 10, netns: ns.name, failOpen: true, maxLen: 5, drainTimeout: 0 });
      const closed = await openQueue({ queue: 11, netns: ns.name, maxLen: 5, drainTimeout: 0 });
      ns.defer(() => open.close());
      ns.defer(() => closed.close());
      for (const q of [open, closed]) q.on('packet', () => {}); // stalled: never a verdict
      await udpSend(ns.name, PORT, Array.from({ length: 20 }, (_, i) => Buffer.from(`o${i}`)));
      await udpSend(ns.name, PORT + 1, Array.from({ length: 20 }, (_, i) => Buffer.from(`c${i}`)));
      // Fail-open: past the 5 waiting, the kernel accepts without asking.
      expect((await receiver.waitFor(15)).length).toBe(15);
      await until(() => (closed.kernelStats()?.queueDropped ?? 0) >= 15);
      const row = queueStats({ netns: ns.name }).find((r) => r.queue === 11)!;
      expect(row).toMatchObject({ waiting: 5, queueDropped: 15, portId: closed.portId });
      expect(row.own?.received).toBe(5);
      expect(row.owner).toBeUndefined(); // asked for with owners: true only
      const owned = queueStats({ netns: ns.name, owners: true }).filter((r) => r.queue === 10 || r.queue === 11);
      expect(owned.map((r) => r.queue)).toEqual([10, 11]);
      for (const r of owned) expect(r.owner).toEqual({ pid: process.pid, command: expect.any(String) });
      // The namespace named by its path is the same one: this process's counters are joined too.
      expect(queueStats({ netns: `/run/netns/${ns.name}` }).find((r) => r.queue === 11)?.own?.received).toBe(5);
    }));
});

describe('kernel: without CAP_NET_ADMIN', () => {
  it('rejects with PermissionDeniedError saying what is needed', () =>
    withNamespace(async (ns) => {
      const script = `
        const { openQueue } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        try { await openQueue({ queue: 1 }); console.log('opened'); }
        catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
      const out = await run('ip', inNamespace(ns.name, ...asNobody('--inh-caps=-all', '--bounding-set=-all'), process.execPath, '--input-type=module', '-e', script));
      const result = JSON.parse(out) as { name: string; code: string; message: string };
      expect(result).toMatchObject({ name: 'PermissionDeniedError', code: 'EPERM' });
      expect(result.message).toContain('CAP_NET_ADMIN');
    }));
});

describe('kernel: least privilege', () => {
  it('keeps verdicting after dropPrivileges("nobody"), with CAP_NET_ADMIN the only capability left', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 12);
      const script = `
        const { openQueue, dropPrivileges } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        const queue = await openQueue({ queue: 12, netns: process.argv[1] });
        dropPrivileges('nobody');
        let n = 0;
        queue.on('packet', (packet) => { packet.accept(); if (++n === 3) void queue.close(); });
        queue.on('close', () => console.log('closed'));
        console.log('ready');`;
      const { child, stdout, stderr, exited } = startProcess(process.execPath, ['--input-type=module', '-e', script, ns.name]);
      await until(() => stdout().includes('ready') || child.exitCode !== null);
      expect(stdout(), stderr()).toContain('ready');
      const { readFileSync } = await import('node:fs');
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      expect(BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`)).toBe(1n << 12n);
      await udpSend(ns.name, PORT, ['a', 'b', 'c'].map((s) => Buffer.from(s)));
      expect((await receiver.waitFor(3)).map(String).sort()).toEqual(['a', 'b', 'c']);
      expect(await exited, stderr()).toBe(0);
      expect(stdout()).toContain('closed'); // unbinding after the drop worked too
    }));
});

describe('kernel: tuning the receiving thread', () => {
  it('pins the JavaScript thread, which receives by default, to readerCpus and sets its nice value', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 13);
      // In a process of its own: the settings stay with the thread that opened the queue.
      const script = `
        const { readFileSync } = await import('node:fs');
        const { openQueue } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        const queue = await openQueue({ queue: 13, netns: ${JSON.stringify(ns.name)}, readerCpus: [0], readerNice: 5 });
        const stat = readFileSync('/proc/thread-self/stat', 'utf8');
        const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        const cpus = /^Cpus_allowed_list:\\s+(\\S+)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'))[1];
        const threads = (await import('node:fs')).readdirSync('/proc/self/task').map((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim());
        queue.on('packet', (packet) => { packet.accept(); void queue.close(); });
        console.log(JSON.stringify({ nice, cpus, readers: threads.filter((n) => n.startsWith('nfq-reader')).length }));
      `;
      const { child, stdout, stderr, exited } = startProcess(process.execPath, ['--input-type=module', '-e', script]);
      await until(() => stdout().includes('}') || child.exitCode !== null);
      expect(JSON.parse(stdout()), stderr()).toEqual({ nice: 5, cpus: '0', readers: 0 });
      await udpSend(ns.name, PORT, [Buffer.from('tuned')]);
      expect((await receiver.waitFor(1)).map(String)).toEqual(['tuned']); // and it receives and verdicts
      expect(await exited, stderr()).toBe(0);
    }));

  it('pins the reader thread to readerCpus and sets its nice value (readerThread)', () =>
    withNamespace(async (ns) => {
      const queue = await openQueue({ queue: 13, netns: ns.name, readerThread: true, readerCpus: [0], readerNice: 5 });
      ns.defer(() => queue.close());
      const { readdirSync, readFileSync } = await import('node:fs');
      const niceOf = (tid: string): number => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19 of stat
      };
      let reader: string | undefined;
      // The thread tunes itself as it starts: wait until both settings show.
      await until(() => {
        reader = readdirSync('/proc/self/task').find((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'nfq-reader-13');
        return reader !== undefined && niceOf(reader) === 5;
      });
      expect(readFileSync(`/proc/self/task/${reader}/status`, 'utf8')).toMatch(/^Cpus_allowed_list:\s+0$/m);
      expect(niceOf(String(process.pid))).toBe(0); // only the reader thread changed
    }));
});

describe('kernel: a non-root user holding only CAP_NET_ADMIN', () => {
  it('runs Node with the capability as an ambient one (setpriv), binding and verdicting', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 14);
      const script = `
        const { openQueue } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        const queue = await openQueue({ queue: 14 });
        let n = 0;
        queue.on('packet', (packet) => { packet.accept(); if (++n === 2) void queue.close(); });
        const { readFileSync } = await import('node:fs');
        const capEff = readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith('CapEff:')).slice(7).trim();
        console.log('ready', process.getuid(), capEff);`;
      // Started inside the namespace by ip netns exec (as root), then setpriv leaves only CAP_NET_ADMIN as nobody.
      const { child, stdout, stderr, exited } = startProcess('ip', inNamespace(ns.name, ...asNobody('--inh-caps=-all,+net_admin', '--ambient-caps=+net_admin'),
        process.execPath, '--input-type=module', '-e', script));
      await until(() => stdout().includes('ready') || child.exitCode !== null);
      expect(stdout(), stderr()).toMatch(/^ready 65534 0000000000001000$/m);
      await udpSend(ns.name, PORT, [Buffer.from('x'), Buffer.from('y')]);
      expect((await receiver.waitFor(2)).map(String).sort()).toEqual(['x', 'y']);
      expect(await exited, stderr()).toBe(0);
    }));

  it('runs the Rust example with the file capability (setcap cap_net_admin+ep)', () =>
    withNamespace(async (ns) => {
      const { copyFileSync, mkdtempSync, rmSync, chmodSync } = await import('node:fs');
      const { execFileSync } = await import('node:child_process');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const built = new URL('../../../target/release/examples/nf-queue', import.meta.url).pathname;
      const directory = mkdtempSync(join(tmpdir(), 'nfq-setcap-'));
      ns.defer(() => rmSync(directory, { recursive: true, force: true }));
      chmodSync(directory, 0o755);
      const binary = join(directory, 'nf-queue');
      copyFileSync(built, binary);
      chmodSync(binary, 0o755);
      execFileSync('setcap', ['cap_net_admin+ep', binary]);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await queueUdp(ns, 15);
      const { child, stderr, exited } = startProcess('ip', inNamespace(ns.name, ...asNobody('--inh-caps=-all'), binary, '--count', '2', '15'));
      await until(async () => (await boundQueues(ns.name)).includes(15) || child.exitCode !== null);
      await udpSend(ns.name, PORT, [Buffer.from('p'), Buffer.from('q')]);
      expect(await exited, stderr()).toBe(0);
      expect((await receiver.waitFor(2)).map(String).sort()).toEqual(['p', 'q']);
    }));
});

/**
 * Every example runs for real: in a namespace of its own, against iptables rules and UDP traffic
 * made there, and each test checks what the example did to the traffic. Needs root and the built
 * packages (npm run build); never skipped.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Started,
  type TestNamespace,
  type UdpReceiver,
  iptables,
  killStartedProcesses,
  queueUdpTo,
  ruleCounter,
  sleep,
  startProcess,
  udpReceiver,
  udpSend,
  until,
  waitBound,
  withNamespace,
} from '@nfq/test-kit';

const PORT = 9999;

afterEach(killStartedProcesses);

/** Starts `examples/<file>` with `args`; resolves once it has bound its queue (its first stderr line). */
async function startExample(file: string, args: string[]): Promise<Started> {
  const example = startProcess(process.execPath, [fileURLToPath(new URL(`../${file}`, import.meta.url)), ...args]);
  await example.waitForOutput('\n', { stream: 'stderr', timeoutMs: 10_000 });
  return example;
}

/**
 * A UDP receiver on PORT, a rule queueing UDP to PORT to `queue`, and `file` serving that queue
 * with `args`: the set-up of the examples that change traffic to one port (undone at the end).
 */
async function exampleOnPort(ns: TestNamespace, queue: number, file: string, args: string[]): Promise<{ receiver: UdpReceiver; example: Started }> {
  const receiver = await udpReceiver(ns, PORT);
  await queueUdpTo(ns.name, PORT, queue);
  const example = await startExample(file, ['--queue', String(queue), '--netns', ns.name, ...args]);
  ns.defer(() => example.stop());
  return { receiver, example };
}

/** A DNS query for `name` (type A), as a resolver sends it. */
function dnsQuery(name: string, id: number): Buffer {
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]); // root, type A, class IN
}

describe('examples', () => {
  it('port-firewall.mjs accepts the allowed ports and drops the rest', () =>
    withNamespace(async (ns) => {
      const receivers = await Promise.all([5001, 5002, 5003].map((port) => udpReceiver(ns, port)));
      await queueUdpTo(ns.name, '5001:5003', 20);
      const example = await startExample('port-firewall.mjs', ['--queue', '20', '--netns', ns.name, '--allow', '5001,5002']);
      ns.defer(() => example.stop());
      for (const port of [5001, 5002, 5003]) await udpSend(ns.name, port, [Buffer.from(`to ${port}`)]);
      await receivers[0]!.waitFor(1);
      await receivers[1]!.waitFor(1);
      await until(() => example.stdout().includes('dropped udp 127.0.0.1 -> 127.0.0.1:5003'), { what: () => 'the drop of port 5003' });
      expect(receivers[2]!.received).toEqual([]);
      expect(await example.stop(), example.stderr()).toBe(0);
    }));

  it('dns-filter.mjs logs every query and drops the blocked names and their subdomains', () =>
    withNamespace(async (ns) => {
      const server = await udpReceiver(ns, 53);
      await queueUdpTo(ns.name, 53, 21);
      const example = await startExample('dns-filter.mjs', ['--queue', '21', '--netns', ns.name, '--block', 'ads.test']);
      ns.defer(() => example.stop());
      await udpSend(ns.name, 53, [dnsQuery('example.com', 1), dnsQuery('ads.test', 2), dnsQuery('cdn.ads.test', 3), dnsQuery('notads.test', 4)]);
      const passed = await server.waitFor(2);
      await until(() => example.stdout().split('\n').filter(Boolean).length === 4, { what: () => 'four log lines' });
      expect(passed.map((query) => query.readUInt16BE(0)).sort()).toEqual([1, 4]);
      expect(example.stdout().split('\n').filter(Boolean).sort()).toEqual([
        'blocked ads.test A from 127.0.0.1',
        'blocked cdn.ads.test A from 127.0.0.1',
        'query example.com A from 127.0.0.1',
        'query notads.test A from 127.0.0.1',
      ]);
      await sleep(100);
      expect(server.received).toHaveLength(2); // the blocked ones never arrive
      expect(await example.stop(), example.stderr()).toBe(0);
    }));

  it('latency.mjs holds every packet for the delay, then lets it through', () =>
    withNamespace(async (ns) => {
      const { receiver, example } = await exampleOnPort(ns, 22, 'latency.mjs', ['--delay', '300']);
      const sent = performance.now();
      await udpSend(ns.name, PORT, ['a', 'b', 'c'].map((s) => Buffer.from(s)));
      const arrived = await receiver.waitFor(3);
      expect(performance.now() - sent).toBeGreaterThanOrEqual(300); // held for the delay, at least
      expect(arrived.map(String).sort()).toEqual(['a', 'b', 'c']);
      expect(await example.stop(), example.stderr()).toBe(0);
    }));

  it('rewrite.mjs replaces text in UDP payloads, lengths and checksums fixed', () =>
    withNamespace(async (ns) => {
      const { receiver, example } = await exampleOnPort(ns, 23, 'rewrite.mjs', ['--from', 'hello', '--to', 'hello, world']);
      await udpSend(ns.name, PORT, [Buffer.from('hello there'), Buffer.from('nothing to change')]);
      // A datagram with a wrong UDP checksum or length would never reach the receiving socket.
      expect((await receiver.waitFor(2)).map(String).sort()).toEqual(['hello, world there', 'nothing to change']);
      expect(example.stdout()).toMatch(/^rewrote packet \d+: 'hello' -> 'hello, world'$/m);
      expect(await example.stop(), example.stderr()).toBe(0);
    }));

  it('rate-limit.mjs lets each source through up to its burst, and drops the rest', () =>
    withNamespace(async (ns) => {
      // One token a minute: within the test only the burst of 3 passes, per source.
      const { receiver, example } = await exampleOnPort(ns, 24, 'rate-limit.mjs', ['--rate', '0.0167', '--burst', '3']);
      const burst = (source: string): Buffer[] => Array.from({ length: 10 }, (_, i) => Buffer.from(`${source} ${i}`));
      await udpSend(ns.name, PORT, burst('127.0.0.2'), { source: '127.0.0.2' });
      await udpSend(ns.name, PORT, burst('127.0.0.3'), { source: '127.0.0.3' });
      await receiver.waitFor(6);
      await sleep(200);
      const bySource = (source: string): string[] => receiver.received.map(String).filter((text) => text.startsWith(source));
      expect(bySource('127.0.0.2')).toEqual(['127.0.0.2 0', '127.0.0.2 1', '127.0.0.2 2']);
      expect(bySource('127.0.0.3')).toEqual(['127.0.0.3 0', '127.0.0.3 1', '127.0.0.3 2']);
      expect(await example.stop(), example.stderr()).toBe(0);
      expect(example.stdout().split('\n').filter(Boolean).sort()).toEqual(['127.0.0.2: 3 accepted, 7 dropped', '127.0.0.3: 3 accepted, 7 dropped']);
    }));

  it('multi-core.mjs serves a --queue-balance range with one worker per queue', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns, PORT);
      await queueUdpTo(ns.name, PORT, '25:26');
      const example = await startExample('multi-core.mjs', ['--from', '25', '--to', '26', '--netns', ns.name]);
      ns.defer(() => example.stop());
      // The balance hash covers the addresses: several sources spread over both queues.
      const sources = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`); // all in one queue: 1 in 2^15
      for (const source of sources) await udpSend(ns.name, PORT, [Buffer.from(`from ${source}`), Buffer.from(`again ${source}`)], { source });
      expect(await receiver.waitFor(32)).toHaveLength(32); // every packet got its verdict and arrived
      expect(await example.stop(), example.stderr()).toBe(0);
      const lines = example.stdout().split('\n').filter(Boolean);
      const counts = lines.map((line) => /^queue (\d+): (\d+) packets, (\d+) accepted$/.exec(line)!.slice(1).map(Number));
      expect(counts.map(([queue]) => queue).sort()).toEqual([25, 26]);
      for (const [, received, accepted] of counts) {
        expect(received).toBeGreaterThan(0); // both queues had traffic
        expect(accepted).toBe(received);
      }
      expect(counts.reduce((sum, [, received]) => sum + received!, 0)).toBe(32);
    }));

  it('policy-drop-port.mjs, run by nf-queue --handler, drops UDP to its port and marks the rest', () =>
    withNamespace(async (ns) => {
      const [dropped, passed] = await Promise.all([5001, 5002].map((port) => udpReceiver(ns, port)));
      await queueUdpTo(ns.name, '5001:5002', 27);
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', '5002', '-m', 'mark', '--mark', '3');
      const cli = fileURLToPath(new URL('../../packages/cli/bin/nf-queue.js', import.meta.url));
      const policy = fileURLToPath(new URL('../policy-drop-port.mjs', import.meta.url));
      const example = startProcess(process.execPath, [cli, '--netns', ns.name, '--handler', policy, '--count', '4', '--quiet', '27'], {
        env: { ...process.env, DROP_PORT: '5001', MARK: '3' },
      });
      ns.defer(() => example.stop());
      await example.waitForOutput('policy-drop-port: queue 27: dropping UDP to port 5001, marking the rest 3', { stream: 'stderr' });
      await waitBound(ns.name, [27], () => example.stderr());
      for (const port of [5001, 5002]) await udpSend(ns.name, port, [Buffer.from(`one to ${port}`), Buffer.from(`two to ${port}`)]);
      expect(await example.exited, example.stderr()).toBe(0);
      expect((await passed!.waitFor(2)).map(String).sort()).toEqual(['one to 5002', 'two to 5002']);
      expect(dropped!.received).toEqual([]);
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x3')).toBe(2);
      expect(example.stderr()).toMatch(/nf-queue: 4 packets: 2 accepted, 2 dropped/);
    }));

  it('rust-tokio, a tokio program on nfq-core, drops, marks and holds packets, and loses none when stopped', () =>
    withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns, PORT);
      await queueUdpTo(ns.name, PORT, 28);
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '7');
      const binary = fileURLToPath(new URL('../rust-tokio/target/release/nfq-tokio-filter', import.meta.url));
      const filter = startProcess(binary, ['--queue', '28', '--netns', ns.name, '--drop', 'secret', '--mark', 'vip=7', '--hold', 'slow=1000']);
      ns.defer(() => filter.stop());
      await filter.waitForOutput('bound queue 28\n', { stream: 'stderr', timeoutMs: 10_000 });

      const sent = performance.now();
      await udpSend(ns.name, PORT, [Buffer.from('a secret'), Buffer.from('vip guest'), Buffer.from('slow one'), Buffer.from('plain')]);
      await until(() => receiver.received.map(String).includes('slow one'), { what: () => filter.stdout() });
      expect(performance.now() - sent).toBeGreaterThanOrEqual(1000); // held for its second, at least
      expect(receiver.received.map(String).sort()).toEqual(['plain', 'slow one', 'vip guest']);
      await until(() => /^release \d+$/m.test(filter.stdout()), { what: () => filter.stdout() });
      expect(filter.stdout().split('\n').filter(Boolean).map((line) => line.replace(/ \d+/, ' ID')).sort()).toEqual(
        ['accept ID', 'drop ID', 'hold ID 1000', 'mark ID 7', 'release ID'],
      );
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x7')).toBe(1);

      // Stopped while a packet is held: that packet still gets its verdict before the queue unbinds.
      await udpSend(ns.name, PORT, [Buffer.from('slow two')]);
      await filter.waitForOutput(/hold \d+ 1000\n[^]*hold \d+ 1000\n/);
      expect(await filter.stop(), filter.stderr()).toBe(0);
      expect((await receiver.waitFor(4)).map(String)[3]).toBe('slow two');
      expect(filter.stderr()).toMatch(/stopped: \d+ accepted at shutdown/);
      expect(receiver.received.map(String)).not.toContain('a secret');
    }));
});

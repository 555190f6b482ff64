/**
 * The real `bin/nf-queue.js` on the real kernel, one private network namespace per test, fed
 * real UDP: --json with --count, --verdict drop, --mark, --pcap, --rule, SIGINT/SIGTERM,
 * --queue-balance and --user. Needs root; never skipped. Run after `npm run build` (the bin runs dist/).
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { summaryOf } from './summary.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/nf-queue.js', import.meta.url));
const PORT = '9999';

/**
 * Sends `count` datagrams to 127.0.0.1:`port` (from each source address in turn, when given)
 * and prints how many a receiver there got, all inside the namespace it runs in.
 */
const TRAFFIC = `
const dgram = require('node:dgram');
const [port, count, ...sources] = process.argv.slice(1);
const receiver = dgram.createSocket('udp4');
let received = 0;
receiver.on('message', () => { received++; });
receiver.bind(Number(port), '127.0.0.1', async () => {
  const senders = await Promise.all((sources.length ? sources : ['127.0.0.1']).map((address) => new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, address, () => resolve(socket));
  })));
  for (let sent = 0; sent < Number(count); sent++) {
    await new Promise((resolve) => senders[sent % senders.length].send('datagram ' + sent, Number(port), '127.0.0.1', resolve));
  }
  for (const socket of senders) socket.close();
  setTimeout(() => { receiver.close(); console.log(received); }, 1000);
});`;

/** Runs `body` with a fresh namespace (loopback up), deleted afterwards whatever happens. */
async function inNamespace(body: (ns: string) => Promise<void>): Promise<void> {
  const ns = `nfqt-main-${process.pid}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await body(ns);
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
}

/** The running command and what it printed so far. */
interface Cli {
  process: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startCli(args: string[], command = bin, env: NodeJS.ProcessEnv = process.env): Cli {
  const child = spawn(process.execPath, [command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits until every queue of `queues` is bound in `ns` (its line appears in /proc). */
async function waitBound(ns: string, cli: Cli, ...queues: number[]): Promise<void> {
  for (let waited = 0; ; waited += 50) {
    const { stdout: table } = await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netfilter/nfnetlink_queue']);
    const bound = new Set(table.split('\n').map((line) => Number(line.trim().split(/\s+/)[0])));
    if (queues.every((queue) => bound.has(queue))) return;
    expect(waited, `nf-queue never bound queues ${queues.join(', ')}: ${cli.stderr()}`).toBeLessThan(8_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function sendUdp(ns: string, count: number, sources: string[] = []): Promise<number> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', TRAFFIC, PORT, String(count), ...sources]);
  return Number(stdout.trim());
}

const iptables = (ns: string, ...args: string[]): Promise<{ stdout: string }> => run('ip', ['netns', 'exec', ns, 'iptables', '-w', ...args]);
const queueRule = (queue: number): string[] => ['OUTPUT', '-p', 'udp', '--dport', PORT, '-j', 'NFQUEUE', '--queue-num', String(queue)];


it('--count with --json: valid JSON lines with id, hook and payload, every packet accepted, exit 0 with a summary', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(3));
    const cli = startCli(['--netns', ns, '--json', '--count', '5', '3']);
    await waitBound(ns, cli, 3);
    expect(await sendUdp(ns, 5)).toBe(5);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const packets = cli.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(packets).toHaveLength(5);
    for (const packet of packets) {
      expect(packet).toMatchObject({ queue: 3, hook: 3, hookName: 'OUTPUT', hwProtocol: 0x0800, payloadLength: 38 });
      expect(packet.id).toEqual(expect.any(Number));
      expect(String(packet.payload)).toMatch(/^45[0-9a-f]{74}$/); // IPv4, 38 bytes in hex
      expect(Buffer.from(String(packet.payload), 'hex').subarray(28).toString()).toMatch(/^datagram \d$/);
    }
    expect(summaryOf(cli.stderr())).toEqual({ packets: 5, accepted: 5, dropped: 0 });
  }),
);

it('--verdict drop: nothing arrives', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(4));
    const cli = startCli(['--netns', ns, '--verdict', 'drop', '--count', '3', '--quiet', '4']);
    await waitBound(ns, cli, 4);
    expect(await sendUdp(ns, 3)).toBe(0);
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(cli.stdout()).toBe('');
    expect(summaryOf(cli.stderr())).toEqual({ packets: 3, accepted: 0, dropped: 3 });
  }),
);

it('--mark 42: the packets carry the mark, as an iptables mark rule counts', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(5));
    await iptables(ns, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', PORT, '-m', 'mark', '--mark', '42');
    const cli = startCli(['--netns', ns, '--mark', '42', '--count', '4', '-q', '5']);
    await waitBound(ns, cli, 5);
    expect(await sendUdp(ns, 4)).toBe(4);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const { stdout } = await iptables(ns, '-t', 'mangle', '-nvxL', 'POSTROUTING');
    const counted = stdout.split('\n').find((line) => line.includes('mark match 0x2a'));
    expect(counted, stdout).toBeDefined();
    expect(Number(counted!.trim().split(/\s+/)[0])).toBe(4);
  }),
);

it('--pcap: a pcap file with one record per packet, which tcpdump reads', { timeout: 20_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'nfq-kernel-pcap-'));
  try {
    await inNamespace(async (ns) => {
      const path = join(directory, 'capture.pcap');
      await iptables(ns, '-A', ...queueRule(6));
      const cli = startCli(['--netns', ns, '--pcap', path, '--count', '3', '-q', '6']);
      await waitBound(ns, cli, 6);
      expect(await sendUdp(ns, 3)).toBe(3);
      expect(await cli.exited, cli.stderr()).toBe(0);
      const bytes = await readFile(path);
      expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4);
      expect(bytes.readUInt32LE(20)).toBe(101);
      const records: Buffer[] = [];
      for (let at = 24; at < bytes.length; ) {
        const length = bytes.readUInt32LE(at + 8);
        expect(bytes.readUInt32LE(at + 12)).toBe(length);
        records.push(bytes.subarray(at + 16, at + 16 + length));
        at += 16 + length;
      }
      expect(records.map((record) => [record.length, record[0], record.subarray(28).toString()])).toEqual([
        [38, 0x45, 'datagram 0'],
        [38, 0x45, 'datagram 1'],
        [38, 0x45, 'datagram 2'],
      ]);
      // tcpdump (installed by scripts/setup.sh) reads the file: three UDP packets to port 9999.
      const { stdout } = await run('tcpdump', ['-n', '-r', path]);
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      for (const line of lines) expect(line).toMatch(/IP 127\.0\.0\.1\.\d+ > 127\.0\.0\.1\.9999: UDP, length 10/);
    });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

it('--rule: the rule exists while running and is gone after SIGTERM (exit 0, summary) and after --count', { timeout: 30_000 }, () =>
  inNamespace(async (ns) => {
    const added = `-A OUTPUT -p udp -m udp --dport ${PORT} -j NFQUEUE --queue-num 7 --queue-bypass`;
    const rules = async (): Promise<string[]> => (await iptables(ns, '-S', 'OUTPUT')).stdout.trim().split('\n');
    const cli = startCli(['--netns', ns, '--rule', `OUTPUT -p udp --dport ${PORT}`, '7']);
    await waitBound(ns, cli, 7);
    for (let waited = 0; !(await rules()).includes(added); waited += 50) {
      expect(waited, cli.stderr()).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await sendUdp(ns, 2)).toBe(2);
    expect(cli.stdout().trim().split('\n')).toHaveLength(2);
    cli.process.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(await rules()).not.toContain(added);
    expect(summaryOf(cli.stderr())).toEqual({ packets: 2, accepted: 2, dropped: 0 });

    const counted = startCli(['--netns', ns, '--rule', `OUTPUT -p udp --dport ${PORT}`, '--count', '1', '-q', '7']);
    await waitBound(ns, counted, 7);
    for (let waited = 0; !(await rules()).includes(added); waited += 50) {
      expect(waited, counted.stderr()).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sendUdp(ns, 1);
    expect(await counted.exited, counted.stderr()).toBe(0);
    expect(await rules()).not.toContain(added);
  }),
);

it('--rule with --user nobody: the rule is deleted even after SIGKILL (its keeper kept root)', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    const added = `-A OUTPUT -p udp -m udp --dport ${PORT} -j NFQUEUE --queue-num 10 --queue-bypass`;
    const rules = async (): Promise<string[]> => (await iptables(ns, '-S', 'OUTPUT')).stdout.trim().split('\n');
    const cli = startCli(['--netns', ns, '--rule', `OUTPUT -p udp --dport ${PORT}`, '--user', 'nobody', '-q', '10']);
    await waitBound(ns, cli, 10);
    for (let waited = 0; !(await rules()).includes(added); waited += 50) {
      expect(waited, cli.stderr()).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await sendUdp(ns, 2)).toBe(2);
    cli.process.kill('SIGKILL');
    await cli.exited;
    for (let waited = 0; (await rules()).includes(added); waited += 50) {
      expect(waited, 'the rule outlived nf-queue').toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }),
);

it('SIGINT: graceful exit 0, every packet accepted, one summary line', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(8));
    const cli = startCli(['--netns', ns, '8']);
    await waitBound(ns, cli, 8);
    expect(await sendUdp(ns, 3)).toBe(3);
    cli.process.kill('SIGINT');
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(summaryOf(cli.stderr())).toEqual({ packets: 3, accepted: 3, dropped: 0 });
    const { stdout: table } = await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netfilter/nfnetlink_queue']);
    expect(table.trim()).toBe(''); // unbound
  }),
);

it('--queue-balance 3:4: one worker per queue, both queues get packets, --count over both', { timeout: 30_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', 'OUTPUT', '-p', 'udp', '--dport', PORT, '-j', 'NFQUEUE', '--queue-balance', '3:4');
    const cli = startCli(['--netns', ns, '--queue-balance', '3:4', '--json', '--count', '16']);
    await waitBound(ns, cli, 3, 4);
    // The kernel's flow hash covers addresses only: several sources spread over both queues.
    const sources = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`); // all in one queue: 1 in 2^15
    expect(await sendUdp(ns, 16, sources)).toBe(16);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const packets = cli.stdout().trim().split('\n').map((line) => JSON.parse(line) as { queue: number });
    expect(packets).toHaveLength(16);
    const perQueue = new Map<number, number>();
    for (const packet of packets) perQueue.set(packet.queue, (perQueue.get(packet.queue) ?? 0) + 1);
    expect([...perQueue.keys()].sort()).toEqual([3, 4]);
    expect(summaryOf(cli.stderr())).toEqual({ packets: 16, accepted: 16, dropped: 0 });
  }),
);

it('--user nobody: switches to uid 65534 with only CAP_NET_ADMIN after binding, and keeps verdicting', { timeout: 20_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(9));
    const cli = startCli(['--netns', ns, '--user', 'nobody', '--count', '3', '-q', '9']);
    await waitBound(ns, cli, 9);
    let status = '';
    for (let waited = 0; !/^Uid:\s+65534\s/m.test(status); waited += 50) {
      expect(waited, cli.stderr()).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await readFile(`/proc/${cli.process.pid}/status`, 'utf8');
    }
    expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^CapEff:\s+0000000000001000$/m); // bit 12: CAP_NET_ADMIN
    expect(await sendUdp(ns, 3)).toBe(3);
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(summaryOf(cli.stderr())).toEqual({ packets: 3, accepted: 3, dropped: 0 });
  }),
);

it('--queue-balance 3:4 --user nobody: every worker keeps only CAP_NET_ADMIN under uid 65534, and both queues verdict', { timeout: 30_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', 'OUTPUT', '-p', 'udp', '--dport', PORT, '-j', 'NFQUEUE', '--queue-balance', '3:4');
    const cli = startCli(['--netns', ns, '--queue-balance', '3:4', '--user', 'nobody', '--json', '--count', '16']);
    await waitBound(ns, cli, 3, 4);
    const tasks = async (): Promise<string[]> => {
      const ids = await readdir(`/proc/${cli.process.pid}/task`);
      return Promise.all(ids.map((id) => readFile(`/proc/${cli.process.pid}/task/${id}/status`, 'utf8').catch(() => '')));
    };
    let statuses = await tasks();
    for (let waited = 0; !statuses.every((s) => s === '' || /^Uid:\s+65534\s/m.test(s)); waited += 50) {
      expect(waited, cli.stderr()).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      statuses = await tasks();
    }
    // The switch of user reaches every thread; the capability only those that give verdicts
    // (the two workers) and the main thread (which starts replacement workers).
    const live = statuses.filter((s) => s !== '');
    for (const status of live) expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    const capabilities = live.map((s) => /^CapEff:\s+([0-9a-f]+)$/m.exec(s)![1]);
    expect(capabilities.filter((c) => c === '0000000000001000').length).toBeGreaterThanOrEqual(3);
    expect(capabilities.filter((c) => c !== '0000000000001000' && c !== '0000000000000000')).toEqual([]);
    const sources = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`); // all in one queue: 1 in 2^15
    expect(await sendUdp(ns, 16, sources)).toBe(16);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const packets = cli.stdout().trim().split('\n').map((line) => JSON.parse(line) as { queue: number });
    expect(new Set(packets.map((p) => p.queue))).toEqual(new Set([3, 4])); // verdicts flowed on both
    expect(summaryOf(cli.stderr())).toEqual({ packets: 16, accepted: 16, dropped: 0 });
  }),
);

it('npm run pack: the tarballs install into an empty folder with no Rust on PATH, and the installed nf-queue verdicts real packets', { timeout: 120_000 }, async () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  await run(process.execPath, [join(root, 'scripts/pack.mjs')]);
  const tarballs = (await readdir(join(root, 'dist-tarballs'))).filter((file) => file.endsWith('.tgz')).map((file) => join(root, 'dist-tarballs', file));
  expect(tarballs.map((file) => file.replace(/.*\//, '')).sort()).toEqual([
    'nfq-cli-0.1.0.tgz',
    'nfq-netlink-0.1.0.tgz',
    'nfq-nfqueue-0.1.0.tgz',
    'nfq-nfqueue-linux-x64-gnu-0.1.0.tgz',
  ]);
  const folder = await mkdtemp(join(tmpdir(), 'nfq-install-'));
  try {
    await writeFile(join(folder, 'package.json'), '{ "name": "tarball-install", "private": true }\n');
    // Node and npm, and nothing else: no cargo, no rustc, no compiler needed.
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: folder };
    await expect(run('sh', ['-c', 'command -v cargo rustc'], { env })).rejects.toThrow();
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: folder, env });
    const { stdout: api } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('@nfq/nfqueue'); console.log(typeof m.openQueue, typeof m.openQueueRange)"], { cwd: folder, env });
    expect(api.trim()).toBe('function function');
    await inNamespace(async (ns) => {
      await iptables(ns, '-A', ...queueRule(30));
      const cli = startCli(['--netns', ns, '--count', '3', '-q', '30'], join(folder, 'node_modules/@nfq/cli/bin/nf-queue.js'), env);
      await waitBound(ns, cli, 30);
      expect(await sendUdp(ns, 3)).toBe(3);
      expect(await cli.exited, cli.stderr()).toBe(0);
      expect(summaryOf(cli.stderr())).toEqual({ packets: 3, accepted: 3, dropped: 0 });
    });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

it('refuses bad input with exit 2 and one line, binding nothing', async () => {
  for (const args of [['--queue-balance', '4:3'], ['70000'], ['--copy-range', '65536'], ['--count', 'x'], ['--verdict', 'no']]) {
    const failed = await run(process.execPath, [bin, ...args]).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr?.trim().split('\n')).toHaveLength(1);
    expect(failed?.stderr).toMatch(/^nf-queue: /);
  }
});

it('SIGTERM during steady traffic: exit 0 within 2 s, and every packet reported accepted arrives', { timeout: 30_000 }, () =>
  inNamespace(async (ns) => {
    await iptables(ns, '-A', ...queueRule(9));
    const cli = startCli(['--quiet', '--netns', ns, '9']);
    await waitBound(ns, cli, 9);
    const traffic = sendUdp(ns, 3000); // steady traffic, still flowing when the signal comes
    await new Promise((resolve) => setTimeout(resolve, 400));
    const signalled = performance.now();
    cli.process.kill('SIGTERM');
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(2_000);
    const summary = summaryOf(cli.stderr());
    expect(summary.packets).toBeGreaterThan(0);
    expect(summary.accepted).toBe(summary.packets); // every packet received got its verdict: accept
    const received = await traffic;
    // Every accepted packet reached UDP: delivered to the receiver, or refused by its full socket
    // buffer (the flood outruns a node receiver), which the kernel counts. Nothing else got through:
    // what came after the queue unbound was dropped by the kernel.
    const udp = await udpCounters(ns);
    expect(udp.InDatagrams + udp.RcvbufErrors).toBe(summary.accepted);
    expect(udp.InDatagrams).toBe(received);
  }),
);

/** The Udp counters of the namespace's /proc/net/snmp. */
async function udpCounters(ns: string): Promise<Record<string, number>> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp']);
  const [names, values] = stdout.split('\n').filter((line) => line.startsWith('Udp:'));
  const keys = names!.split(/\s+/).slice(1);
  const numbers = values!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((key, i) => [key, numbers[i]!]));
}

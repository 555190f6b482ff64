/**
 * The summary's kernel drops under a flood when stdout's reader goes away (`nf-queue | head -1`):
 * the socket keeps overflowing while the command shuts down, and those drops count too. With
 * --queue-bypass and the default verdict accept, every datagram is either accepted (by a verdict,
 * by fail-open while closing, or by bypass once unbound) and arrives, or dropped by the kernel:
 * what never arrived is exactly what the summary says the kernel dropped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { iptables, ruleCounter, run, sleep, withNamespace } from '../../nfqueue/test/netns.js';

const bin = fileURLToPath(new URL('../bin/nf-queue.js', import.meta.url));
const PORT = 9999;
const SUMMARY =
  /^nf-queue: (\d+) packets: (\d+) accepted, (\d+) dropped[^;]*; (?:(\d+) dropped by the kernel \((\d+) queue full, (\d+) socket full\); )?(\d+) overrun events?; .*$/;

const started = new Set<ChildProcess>();
afterEach(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
});

async function queueTable(ns: string): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netfilter/nfnetlink_queue'])).trim();
}

/** Sends datagrams of 200 bytes from `source` as fast as it can until SIGTERM (it yields to take the signal). */
const FLOOD = `
const dgram = require('node:dgram');
const [port, source] = process.argv.slice(1);
const socket = dgram.createSocket('udp4');
let running = true;
process.on('SIGTERM', () => (running = false));
socket.bind(0, source, async () => {
  for (let n = 0; running; n++) {
    await new Promise((resolve) => socket.send((source + ' ' + n + ' ').padEnd(200, 'x'), Number(port), '127.0.0.1', resolve));
    if (n % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  socket.close();
});`;

/** Starts a flood from `source` in `ns`; `stop()` ends it and resolves once the sender has exited. */
function flood(ns: string, source: string): { stop: () => Promise<void> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', FLOOD, String(PORT), source], { stdio: 'ignore' });
  started.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

for (const balance of [false, true]) {
  const name = balance ? '--queue-balance 5:6 --json' : 'queue 5';
  it(`a flood into a tiny receive buffer, stdout closed by its reader (${name}): the kernel drops in the summary are every datagram that never arrived`, { timeout: 60_000 }, () =>
    withNamespace(async ({ name: ns }) => {
      const queues = balance ? [5, 6] : [5];
      const target = balance ? ['--queue-balance', '5:6'] : ['--queue-num', '5'];
      await iptables(ns, '-A', 'OUTPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'NFQUEUE', ...target, '--queue-bypass');
      // No socket listens: INPUT's rule counts what arrives (a receiver would fall behind the flood).
      await iptables(ns, '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'ACCEPT');
      const args = ['--netns', ns, '--rcvbuf', '1', ...(balance ? ['--json', '--queue-balance', '5:6'] : ['5'])];
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      started.add(child);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The reader takes the first chunk and closes its end, as `head -1` does.
      child.stdout.once('data', () => child.stdout.destroy());
      for (let waited = 0; ; waited += 50) {
        const bound = new Set((await queueTable(ns)).split('\n').map((line) => Number(line.trim().split(/\s+/)[0])));
        if (queues.every((queue) => bound.has(queue))) break;
        expect(waited, `nf-queue never bound: ${stderr}`).toBeLessThan(8_000);
        await sleep(50);
      }
      // The flood runs through the whole shutdown, and on after the command exited.
      const sources = balance ? ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'] : ['127.0.0.2'];
      const floods = sources.map((source) => flood(ns, source));
      let exit: number | null;
      try {
        exit = await exited;
        expect(await queueTable(ns)).toBe(''); // unbound: what the flood sends from now on passes
        await sleep(100);
      } finally {
        await Promise.all(floods.map((sender) => sender.stop()));
      }
      expect(exit, stderr).toBe(0);

      expect(stderr).not.toMatch(/^\s+at |Error:|Uncaught|node:internal/m);
      const match = SUMMARY.exec(stderr.trim().split('\n').at(-1)!);
      expect(match, stderr).not.toBeNull();
      const [packets, accepted] = [Number(match![1]), Number(match![2])];
      const kernelDrops = match![4] === undefined ? 0 : Number(match![4]);
      expect(accepted).toBe(packets);

      // Every datagram went through the NFQUEUE rule (the first of OUTPUT); those accepted passed INPUT's.
      const sent = await ruleCounter(ns, 'filter', 'OUTPUT', 'NFQUEUE');
      const arrived = await ruleCounter(ns, 'filter', 'INPUT', `udp dpt:${PORT}`);
      expect(arrived).toBeGreaterThan(packets); // the verdicts, then fail-open and bypass passes
      expect(sent - arrived, `the flood overflowed the socket: ${stderr}`).toBeGreaterThan(0);
      expect(kernelDrops, `${sent - arrived} of ${sent} never arrived; ${stderr}`).toBe(sent - arrived);
    }),
  );
}

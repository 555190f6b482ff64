#!/usr/bin/env node
// Soak: PACKETS (default 10 million) 64-byte UDP datagrams through `nf-queue --quiet` in a private
// network namespace. Reports the CLI's RSS after warm-up (the first 10% of the packets) and at the
// end, and its open file descriptors at both points: the reliability target is at most 5 MB of RSS
// growth after warm-up and no descriptor leaked. With --save, writes bench/results/soak.json.
//
// With --rcvbuf BYTES (e.g. 4096) the queue's socket buffer holds only a few messages: the flood
// overflows it again and again (ENOBUFS), the storm the receive path must survive with flat memory.
// The kernel then drops what did not fit, so the run ends when the flood has ended (SIGTERM), not
// at a packet count. A leak grows with the packet count (10 million by default); noise does not.
//
// Usage: node bench/soak.mjs [--packets N] [--rcvbuf BYTES] [--save]
//   (needs root, and the bench tools: npm run bench -- --quick builds them)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const packetsArg = process.argv.indexOf('--packets');
const PACKETS = packetsArg > 0 ? Number(process.argv[packetsArg + 1]) : 10_000_000;
const rcvbufArg = process.argv.indexOf('--rcvbuf');
const RCVBUF = rcvbufArg > 0 ? process.argv[rcvbufArg + 1] : undefined;
const QUEUE = 6;
const root = new URL('..', import.meta.url).pathname;
const build = `${root}bench/.build`;
for (const tool of ['flood', 'sink']) {
  if (!existsSync(`${build}/${tool}`)) {
    console.error(`soak: ${build}/${tool} is missing: run npm run bench -- --quick once to build the bench tools`);
    process.exit(1);
  }
}
const ns = `nfq-soak-${process.pid}`;
const sh = (...args) => execFileSync(args[0], args.slice(1), { encoding: 'utf8' });
const inNs = (...args) => sh('ip', 'netns', 'exec', ns, ...args);
const children = [];

function cleanup() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  try {
    sh('ip', 'netns', 'delete', ns);
  } catch {
    // already gone
  }
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const kernelIdSequence = () => {
  const line = inNs('cat', '/proc/net/netfilter/nfnetlink_queue').trim().split('\n').find((l) => l.trim().split(/\s+/)[0] === String(QUEUE));
  return line ? Number(line.trim().split(/\s+/)[7]) : 0;
};
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

try {
  sh('ip', 'netns', 'add', ns);
  sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  inNs('iptables', '-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9999', '-j', 'NFQUEUE', '--queue-num', String(QUEUE));
  const sink = spawn('ip', ['netns', 'exec', ns, `${build}/sink`, '--port', '9999', ...(RCVBUF ? [] : ['--count', String(PACKETS)])], { stdio: 'ignore' });
  const ending = RCVBUF ? ['--rcvbuf', RCVBUF] : ['--count', String(PACKETS)];
  const cli = spawn(process.execPath, [`${root}packages/cli/bin/nf-queue.js`, '--quiet', '--netns', ns, ...ending, String(QUEUE)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(sink, cli);
  let stderr = '';
  cli.stderr.on('data', (chunk) => (stderr += chunk));
  for (let waited = 0; kernelIdSequence() === 0 && !inNs('cat', '/proc/net/netfilter/nfnetlink_queue').includes(` ${QUEUE} `); waited += 50) {
    if (waited > 10_000) throw new Error('nf-queue did not bind');
    await sleep(50);
  }
  await sleep(300);
  const started = performance.now();
  const flood = spawn('ip', ['netns', 'exec', ns, `${build}/flood`, String(PACKETS), '64'], { stdio: 'ignore' });
  children.push(flood);
  if (RCVBUF) {
    // What overflowed is gone: once the flood is over and the queue idle, stop the CLI.
    flood.once('exit', () => setTimeout(() => cli.kill('SIGTERM'), 1000));
  }
  const warmAt = PACKETS / 10;
  let warm;
  let peak = 0;
  const exited = new Promise((resolve) => cli.once('exit', resolve));
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    const id = kernelIdSequence();
    try {
      const rss = rssKb(cli.pid);
      peak = Math.max(peak, rss);
      if (!warm && id >= warmAt) warm = { packets: id, rssKb: rss, fds: fds(cli.pid) };
      var last = { packets: id, rssKb: rss, fds: fds(cli.pid) };
    } catch {
      break; // exited between the check and the read
    }
    await sleep(250);
  }
  const code = await exited;
  const seconds = (performance.now() - started) / 1000;
  const result = {
    packets: PACKETS,
    rcvbuf: RCVBUF ?? 'default',
    exitCode: code,
    seconds: Number(seconds.toFixed(1)),
    packetsPerSecond: Math.round(PACKETS / seconds),
    afterWarmUp: warm,
    atEnd: last,
    rssGrowthAfterWarmUpMb: warm && last ? Number(((last.rssKb - warm.rssKb) / 1024).toFixed(2)) : undefined,
    rssGrowthPerMillionPacketsKb: warm && last && last.packets > warm.packets ? Math.round(((last.rssKb - warm.rssKb) * 1e6) / (last.packets - warm.packets)) : undefined,
    peakRssMb: Number((peak / 1024).toFixed(1)),
    fdsLeaked: warm && last ? last.fds - warm.fds : undefined,
    summary: stderr.trim(),
    date: new Date().toISOString(),
  };
  if (process.argv.includes('--save')) {
    mkdirSync(`${root}bench/results`, { recursive: true });
    writeFileSync(`${root}bench/results/${RCVBUF ? 'soak-enobufs' : 'soak'}.json`, `${JSON.stringify(result, null, 2)}\n`);
  }
  console.log(JSON.stringify(result, null, 2));
  const ok = code === 0 && result.rssGrowthAfterWarmUpMb !== undefined && result.rssGrowthAfterWarmUpMb <= 5 && result.fdsLeaked === 0;
  console.log(`soak: ${ok ? 'PASS' : 'FAIL'} (target: exit 0, RSS growth after warm-up <= 5 MB, no descriptor leaked)`);
  process.exitCode = ok ? 0 : 1;
} finally {
  cleanup();
}

#!/usr/bin/env node
// The demo, `npm run demo`: first `nf-queue demo` (packages/cli), which in a private network
// namespace queues UDP and ICMP to NFQUEUE queue 0 and shows each packet being verdicted live
// from TypeScript; then the same ten datagrams through the Rust example `nf-queue`
// (crates/nfq-core/examples/nf-queue.rs), when it is built.
// Needs root (CAP_NET_ADMIN), iproute2, iptables and a build (`npm run build`).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/cli/bin/nf-queue.js');
const cliBuilt = join(root, 'packages/cli/dist/commands/demo.js');
const example = join(root, 'target/release/examples/nf-queue');
const namespace = `nfq-demo-${process.pid}-${randomBytes(3).toString('hex')}`;
const port = 9999;
const queueNum = 0;
const count = 10;

function run(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNamespace(args) {
  return run('ip', ['netns', 'exec', namespace, ...args]);
}

/** True once queue `queueNum` is bound inside the namespace (its line in /proc, seen from there). */
function queueIsBound() {
  const table = inNamespace(['cat', '/proc/net/netfilter/nfnetlink_queue']);
  return table.split('\n').some((line) => line.trim().split(/\s+/)[0] === String(queueNum));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `nf-queue demo`; resolves to its exit status. It cleans up after itself, Ctrl-C included. */
function cliDemo() {
  console.log(`demo: node packages/cli/bin/nf-queue.js demo`);
  const child = spawn(process.execPath, [cli, 'demo'], { stdio: 'inherit' });
  cliChild = child;
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

let phase = 'cli';
let cliChild;

async function main() {
  if (!existsSync(cliBuilt)) {
    console.error(`demo: ${cliBuilt} is missing; build first: bash scripts/setup.sh (or npm run build)`);
    return 1;
  }
  const status = await cliDemo();
  if (status !== 0) return status;
  if (!existsSync(example)) {
    console.log(`demo: the Rust example ${example} is not built (cargo build --release --example nf-queue); skipping it`);
    return 0;
  }
  phase = 'rust';
  console.log('');
  console.log('demo: the same with the Rust core alone: 10 datagrams through the example nf-queue');
  console.log(`demo: namespace ${namespace}`);
  run('ip', ['netns', 'add', namespace]);
  let consumer;
  try {
    run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const rule = ['-A', 'OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'NFQUEUE', '--queue-num', String(queueNum)];
    inNamespace(['iptables', '-w', ...rule]);
    console.log(`demo: iptables ${rule.join(' ')}`);

    console.log(`demo: ip netns exec ${namespace} ${example} --count ${count} ${queueNum}`);
    consumer = spawn('ip', ['netns', 'exec', namespace, example, '--count', String(count), String(queueNum)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise((resolve) => consumer.once('exit', (code, signal) => resolve({ code, signal })));

    for (let waited = 0; !queueIsBound(); waited += 50) {
      if (consumer.exitCode !== null) throw new Error(`nf-queue exited early with status ${consumer.exitCode}`);
      if (waited > 5000) throw new Error('nf-queue did not bind the queue within 5 s');
      await sleep(50);
    }

    console.log(`demo: sending ${count} UDP datagrams to 127.0.0.1:${port}`);
    const sender = `
      const socket = require('node:dgram').createSocket('udp4');
      let sent = 0;
      const next = () => sent === ${count}
        ? socket.close()
        : socket.send('datagram ' + sent++, ${port}, '127.0.0.1', next);
      next();`;
    inNamespace([process.execPath, '-e', sender]);

    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), 10_000);
    });
    const result = await Promise.race([exited, timeout]);
    clearTimeout(timer); // a pending timer would keep the demo alive for 10 s after it is done
    if (result.timedOut) throw new Error(`nf-queue did not exit after ${count} packets within 10 s`);
    if (result.code !== 0) throw new Error(`nf-queue exited with ${result.signal ?? `status ${result.code}`}`);
    const counters = inNamespace(['iptables', '-w', '-L', 'OUTPUT', '-v', '-x', '-n']);
    const ruleLine = counters.split('\n').find((line) => line.includes('NFQUEUE'));
    console.log(`demo: done; the NFQUEUE rule counted ${ruleLine?.trim().split(/\s+/)[0]} packets`);
    return 0;
  } finally {
    if (consumer && consumer.exitCode === null && consumer.signalCode === null) consumer.kill('SIGTERM');
    try {
      run('ip', ['netns', 'delete', namespace]);
    } catch (error) {
      console.error(`demo: could not delete namespace ${namespace}: ${error.message}`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (phase === 'cli') {
      // nf-queue demo cleans up and exits on a signal (a repeated one included), then so do we.
      cliChild?.kill(signal);
      return;
    }
    try {
      run('ip', ['netns', 'delete', namespace]);
    } catch {
      // already gone
    }
    process.exit(130);
  });
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error) => {
    console.error(`demo: ${error.message}`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
// The queue benchmark: every contender verdicts the same UDP flood in a private network
// namespace, alternated over several rounds; medians, ratios to the C consumers (a) and (b) of the
// same run, PASS/FAIL lines for the performance targets; with --save, a JSON file and an SVG chart.
// Two more scenarios put real traffic through the queue: an iperf3 TCP transfer and ping at 1,000/s.
//
//   node bench/queue-bench.mjs [--quick] [--packets N] [--rounds N] [--only a,b,d] [--queue N]
//                              [--scenarios LIST] [--no-cargo] [--no-tweaks] [--save | --out DIR]
//
//   --quick       one round, fewer packets: a smoke run
//   --packets N   packets per run of the 64-byte and 1400-byte accept scenarios (default 200000;
//                 the drop scenario uses a quarter, the latency scenario 30000 at 10k packets/s;
//                 tcp-iperf3 runs iperf3 -t 4 and ping-rtt 4000 pings, -t 2 and 1000 with --quick)
//   --rounds N    rounds (default 5; the tweak runs and the scenarios other than 64-byte accept
//                 take part in the first 3 only); each round runs every contender once per
//                 scenario, in an order rotated from round to round
//   --only LIST   contenders by letter (a..h); d selects both Node API paths
//   --queue N     queue number (default 6)
//   --scenarios L scenarios by name (accept-64, drop-64, accept-1400, latency-10k, tcp-iperf3,
//                 ping-rtt; default all)
//   --no-cargo    do not run `cargo build` for the Rust example: use the binary that is there
//   --no-tweaks   leave out the tweak runs (nf-queue --quiet with one option each, 64-byte accept)
//   --save        also write the results to bench/results/ (queue-bench.json, .svg, .md); without
//                 it (or --out) the tables go to stdout only and no file is touched
//   --out DIR     write the same three files to DIR instead
//
// Needs root (namespaces, iptables, binding a queue), gcc, libnetfilter-queue-dev and libmnl-dev
// (bash scripts/setup.sh), the built packages (npm run build) and optionally go, python3, iperf3
// and ping (iputils-ping).
// See bench/README.md for the method. Prints the tables; with --save writes
// bench/results/queue-bench.{json,svg,md}.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT_DIR = dirname(BENCH_DIR);
const BUILD_DIR = join(BENCH_DIR, '.build');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const QUEUED_PORT = 9999;
const UNQUEUED_PORT = 9998;
const LATENCY_RATE = 10_000;
const IPERF_PORT = 5201; // queued both ways (data and ACKs)
const IPERF_UNQUEUED_PORT = 5202; // the (no queue) row
const PING_RATE = 1000;
const PING_COUNT = 4000;
const PING_UNQUEUED_ADDRESS = '127.0.0.2'; // the rule matches 127.0.0.1 to itself only
/** A packet count no run reaches: the tcp-iperf3 and ping-rtt contenders are stopped by SIGTERM. */
const FOREVER = 1_000_000_000_000;

// ---------------------------------------------------------------- options

/** Reads the command line into the harness options. */
function parseOptions(argv) {
  const options = { quick: false, packets: 200_000, rounds: 5, only: null, scenarios: null, queue: 6, cargo: true, tweaks: true, out: null };
  let packetsGiven = false;
  let roundsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      return argv[++i];
    };
    const whole = (text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) fail(`${arg}: '${text}' is not a positive whole number`);
      return n;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--packets') (options.packets = whole(value())), (packetsGiven = true);
    else if (arg === '--rounds') (options.rounds = whole(value())), (roundsGiven = true);
    else if (arg === '--only') options.only = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    else if (arg === '--scenarios') options.scenarios = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (arg === '--queue') options.queue = whole(value());
    else if (arg === '--no-cargo') options.cargo = false;
    else if (arg === '--no-tweaks') options.tweaks = false;
    else if (arg === '--save') options.out ??= RESULTS_DIR;
    else if (arg === '--out') options.out = value();
    else if (arg === '--help' || arg === '-h') {
      const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
      const usage = lines.slice(lines.findIndex((l) => l.startsWith('//   node bench')), lines.findIndex((l) => l.startsWith('// Needs root')) - 1);
      console.log(usage.map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else fail(`unknown option '${arg}' (see --help)`);
  }
  if (options.quick) {
    if (!packetsGiven) options.packets = 50_000;
    if (!roundsGiven) options.rounds = 1;
  }
  return options;
}

function fail(message) {
  console.error(`queue-bench: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------- cleanup on every exit path

/** Children still running, killed on any exit. */
const liveChildren = new Set();
/** Contender processes started by runstat (killing runstat alone would leave them running). */
const consumerPids = new Set();
let namespace = null;

function teardown() {
  for (const pid of consumerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  consumerPids.clear();
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  if (namespace) {
    // Deleting the namespace removes its iptables rule with it.
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
    namespace = null;
  }
}
process.on('exit', teardown);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\nqueue-bench: ${signal}, tearing down`);
    teardown();
    process.exit(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error(error);
  teardown();
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  console.error(error);
  teardown();
  process.exit(1);
});

/** Spawns a child that teardown() will kill if it is still running. */
function start(argv, options = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  liveChildren.add(child);
  child.output = { stdout: '', stderr: '', stdoutBytes: 0 };
  child.stdout?.on('data', (d) => {
    child.output.stdout = (child.output.stdout + d).slice(-(1 << 20));
    child.output.stdoutBytes += d.length;
  });
  child.stderr?.on('data', (d) => (child.output.stderr = (child.output.stderr + d).slice(-8192)));
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      child.exitedAt = process.hrtime.bigint();
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      liveChildren.delete(child);
      child.output.stderr += String(error);
      resolve({ code: -1, signal: null });
    });
  });
  return child;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

function run(argv, options = {}) {
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...options });
}

function mustRun(argv) {
  const result = run(argv);
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr || result.error}`);
  return result.stdout;
}

// ---------------------------------------------------------------- building the contenders

/** True when `output` is missing or older than any of `sources`. */
function stale(output, sources) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return sources.some((source) => statSync(source).mtimeMs > built);
}

function gcc(output, sources, libraries = []) {
  const target = join(BUILD_DIR, output);
  const paths = sources.map((s) => join(BENCH_DIR, s));
  if (!stale(target, paths)) return { ok: true };
  const result = run(['gcc', '-O2', '-Wall', '-o', target, ...paths, ...libraries]);
  return result.status === 0 ? { ok: true } : { ok: false, why: `gcc ${sources.join(' ')} failed:\n${result.stderr}` };
}

const tail = (text, lines = 6) => String(text ?? '').trim().split('\n').slice(-lines).join('\n');

/** Builds what can be built; returns why each contender that cannot run cannot. */
function buildAll(options) {
  mkdirSync(BUILD_DIR, { recursive: true });
  const unavailable = {};
  for (const tool of ['flood', 'sink', 'runstat']) {
    const built = gcc(tool, [`${tool}.c`]);
    if (!built.ok) fail(built.why);
  }
  const classic = gcc('classic', ['c/classic.c'], ['-lnetfilter_queue', '-lmnl']);
  if (!classic.ok) unavailable.a = `${classic.why}(install libnetfilter-queue-dev and libmnl-dev: bash scripts/setup.sh)`;
  const batched = gcc('batched', ['c/batched.c'], ['-lnetfilter_queue', '-lmnl']);
  if (!batched.ok) unavailable.b = `${batched.why}(install libnetfilter-queue-dev and libmnl-dev: bash scripts/setup.sh)`;

  const rustBinary = join(ROOT_DIR, 'target/release/examples/nf-queue');
  if (options.cargo) {
    process.stdout.write('building the Rust example (cargo build --release -p nfq-core --example nf-queue)... ');
    const cargo = run(['cargo', 'build', '--release', '-p', 'nfq-core', '--example', 'nf-queue'], { cwd: ROOT_DIR, timeout: 300_000 });
    if (cargo.status === 0) console.log('ok');
    else console.log(existsSync(rustBinary) ? 'FAILED, using the binary already built' : 'FAILED');
    if (cargo.status !== 0) console.log(tail(cargo.stderr));
  }
  if (!existsSync(rustBinary)) unavailable.c = `${rustBinary} is missing (cargo build --release -p nfq-core --example nf-queue)`;

  for (const [keys, path] of [
    [['d', 'e'], 'packages/nfqueue/dist/index.js'],
    [['f'], 'packages/cli/dist/index.js'],
  ]) {
    if (!existsSync(join(ROOT_DIR, path)) || !existsSync(join(ROOT_DIR, 'packages/nfqueue/native/index.cjs'))) {
      for (const key of keys) unavailable[key] = `${path} or the native binding is missing: run npm run build`;
    }
  }

  process.stdout.write('building go-nfqueue (bench/go, github.com/florianl/go-nfqueue/v2 from the Go module proxy)... ');
  const go = run(['go', 'build', '-o', join(BUILD_DIR, 'go-nfqueue'), '.'], { cwd: join(BENCH_DIR, 'go'), timeout: 240_000 });
  if (go.status === 0) console.log('ok');
  else {
    unavailable.g = `go build failed (the Go module proxy refused the module, or no go toolchain): ${tail(go.stderr || go.error, 3)}`;
    console.log('FAILED');
  }

  process.stdout.write('installing NetfilterQueue into bench/.build/venv (pip)... ');
  const python = join(BUILD_DIR, 'venv/bin/python');
  const importable = () => existsSync(python) && run([python, '-c', 'import netfilterqueue']).status === 0;
  if (importable()) console.log('ok (already installed)');
  else {
    const venv = existsSync(python) ? { status: 0 } : run(['python3', '-m', 'venv', join(BUILD_DIR, 'venv')]);
    const pip = venv.status === 0 ? run([join(BUILD_DIR, 'venv/bin/pip'), 'install', '--quiet', 'NetfilterQueue'], { timeout: 240_000 }) : venv;
    if (pip.status === 0 && importable()) console.log('ok');
    else {
      unavailable.h = `pip install NetfilterQueue failed: ${tail(pip.stderr || pip.error, 3)}`;
      console.log('FAILED');
    }
  }
  return unavailable;
}

// ---------------------------------------------------------------- the contenders

const nodeBin = process.execPath;
const contenderScript = (name) => join(BENCH_DIR, 'contenders', name);
/** Node runs with --trace-gc: each collection is one line on stdout, counted by {@link gcFigures}. */
const node = (...argv) => [nodeBin, '--trace-gc', ...argv];

/**
 * The garbage collections a Node contender's `--trace-gc` lines report once it had bound the
 * queue (start-up's are left out): young-generation scavenges, full mark-compacts and the longest
 * pause in ms.
 */
function gcFigures(stdout) {
  const lines = stdout.split('\n').filter((l) => / ms: (Scavenge|Mark-Compact|Mark-sweep)/.test(l));
  const pauses = lines.map((l) => Number(/MB, ([0-9.]+) \/ [0-9.]+ ms/.exec(l)?.[1] ?? 0));
  return {
    scavenges: lines.filter((l) => l.includes(' ms: Scavenge')).length,
    markCompacts: lines.filter((l) => !l.includes(' ms: Scavenge')).length,
    longestPauseMs: Math.max(0, ...pauses),
  };
}

/**
 * Each contender: id (its letter, a suffix for the second Node path), a label, whether it can give
 * the drop verdict, and its command line. `inNamespace` ones run under `ip netns exec`; the others
 * bind in the namespace themselves (--netns).
 */
const CONTENDERS = [
  { id: 'a', label: 'C classic (libnetfilter_queue, recv+sendto per packet)', drop: true, inNamespace: true, argv: (q, n) => [join(BUILD_DIR, 'classic'), q, n] },
  { id: 'b', label: 'C batched (recvmmsg 64 + one sendto)', drop: true, inNamespace: true, argv: (q, n) => [join(BUILD_DIR, 'batched'), q, n] },
  { id: 'c', label: 'nfq-core Rust example', drop: false, inNamespace: false, argv: (q, n, ns) => [join(ROOT_DIR, 'target/release/examples/nf-queue'), '--quiet', '--count', n, '--netns', ns, q] },
  { id: 'd', label: "Node API, queue.on('packet')", drop: true, inNamespace: true, argv: (q, n) => node(contenderScript('node-callback.mjs'), q, n) },
  { id: 'd.batches', label: 'Node API, queue.batches()', drop: true, inNamespace: true, argv: (q, n) => node(contenderScript('node-batches.mjs'), q, n) },
  { id: 'e', label: 'Node API, for await (packet of queue)', drop: true, inNamespace: true, argv: (q, n) => node(contenderScript('node-iterator.mjs'), q, n) },
  { id: 'f', label: 'nf-queue --quiet (the CLI)', drop: false, inNamespace: false, argv: (q, n, ns) => node(join(ROOT_DIR, 'packages/cli/bin/nf-queue.js'), '--quiet', '--count', n, '--netns', ns, q) },
  { id: 'g', label: 'go-nfqueue (Go)', drop: true, inNamespace: true, argv: (q, n) => [join(BUILD_DIR, 'go-nfqueue'), q, n] },
  { id: 'h', label: 'NetfilterQueue (Python)', drop: true, inNamespace: true, argv: (q, n) => [join(BUILD_DIR, 'venv/bin/python'), join(BENCH_DIR, 'python/netfilterqueue_contender.py'), q, n] },
];
/**
 * The tuning options, each one `nf-queue --quiet` option on top of (f), run in the 64-byte accept
 * scenario only and reported as ratios to (f) of the same run (skip them with --no-tweaks).
 */
const TWEAKS = [
  ['rcvbuf', ['--rcvbuf', '8M'], 'a bigger socket receive buffer'],
  ['nice', ['--nice=-20'], 'nice -20'],
  ['cpu', ['--cpu', '1'], 'the receiving thread pinned to CPU 1'],
  ['no-enobufs', ['--no-enobufs'], 'NETLINK_NO_ENOBUFS'],
  ['fail-open', ['--fail-open'], 'fail-open'],
  ['no-gso', ['--no-gso'], 'GSO off (it is on by default)'],
  ['maxlen', ['--maxlen', '65536'], 'a longer kernel queue'],
  ['reader-thread', ['--reader-thread'], 'receiving on a reader thread instead of the main thread'],
];
/**
 * Rounds that the tweak runs and the scenarios other than 64-byte accept take part in (the
 * targets are judged on 64-byte accept, which runs every round): keeps the default run under 7 minutes.
 */
const SIDE_ROUNDS = 3;
for (const [name, flags, what] of TWEAKS) {
  CONTENDERS.push({
    id: `f+${name}`,
    label: `nf-queue --quiet ${flags.join(' ')}: ${what}`,
    drop: false,
    tweak: true,
    inNamespace: false,
    argv: (q, n, ns) => [nodeBin, join(ROOT_DIR, 'packages/cli/bin/nf-queue.js'), '--quiet', ...flags, '--count', n, '--netns', ns, q],
  });
}
const letter = (id) => id[0];

// ---------------------------------------------------------------- the namespace

/** Deletes namespaces left by an earlier run of this harness that was killed outright. */
function removeStaleNamespaces() {
  const list = run(['ip', 'netns', 'list']).stdout ?? '';
  for (const line of list.split('\n')) {
    const match = /^(nfqbench-(\d+)-\w+)/.exec(line);
    if (!match) continue;
    let alive = true;
    try {
      process.kill(Number(match[2]), 0);
    } catch {
      alive = false;
    }
    if (!alive) run(['ip', 'netns', 'del', match[1]]);
  }
}

/**
 * Creates the namespace, its loopback and the NFQUEUE rules (UDP to 9999; TCP to and from the
 * iperf3 port and ICMP echo on 127.0.0.1 when those scenarios run); returns a process living in it.
 */
async function setUpNamespace(queue, { tcp = false, ping = false } = {}) {
  removeStaleNamespaces();
  const name = `nfqbench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  mustRun(['ip', 'netns', 'add', name]);
  namespace = name;
  mustRun(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  const matches = [['-p', 'udp', '--dport', String(QUEUED_PORT)]];
  if (tcp) matches.push(['-p', 'tcp', '--dport', String(IPERF_PORT)], ['-p', 'tcp', '--sport', String(IPERF_PORT)]);
  for (const type of ping ? ['echo-request', 'echo-reply'] : []) matches.push(['-p', 'icmp', '--icmp-type', type, '-s', '127.0.0.1', '-d', '127.0.0.1']);
  const rules = matches.map((m) => ['-A', 'OUTPUT', ...m, '-j', 'NFQUEUE', '--queue-num', String(queue)]);
  for (const rule of rules) mustRun(['ip', 'netns', 'exec', name, 'iptables', ...rule]);
  // A process that lives in the namespace: /proc/<its pid>/net/ is the namespace's view.
  const anchor = start(['ip', 'netns', 'exec', name, 'sleep', 'infinity']);
  for (let i = 0; i < 100 && !existsSync(`/proc/${anchor.pid}/net/netfilter/nfnetlink_queue`); i++) await sleep(10);
  await sleep(50);
  return { name, anchor, rules: rules.map((r) => `iptables ${r.join(' ')}`) };
}

/** The namespace's line for `queue` in /proc/net/netfilter/nfnetlink_queue, or undefined. */
function kernelQueueStats(anchorPid, queue) {
  let text;
  try {
    text = readFileSync(`/proc/${anchorPid}/net/netfilter/nfnetlink_queue`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length >= 8 && f[0] === queue) {
      return { portId: f[1], waiting: f[2], copyMode: f[3], queueDropped: f[5], userDropped: f[6], idSequence: f[7] };
    }
  }
  return undefined;
}

/** utime + stime of a process (all its threads), in microseconds, and its VmRSS in kB. */
function processCost(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuMicros: (ticks * 1e6) / CLOCK_TICKS_PER_SECOND, rssKb: rss };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- one run

async function startSink(ns, { port, count, latency }) {
  const argv = ['ip', 'netns', 'exec', ns, join(BUILD_DIR, 'sink'), '--port', String(port), '--count', String(count)];
  if (latency) argv.push('--latency');
  const sink = start(argv);
  for (let i = 0; i < 500 && !sink.output.stdout.includes('ready'); i++) await sleep(2);
  if (!sink.output.stdout.includes('ready')) throw new Error(`the sink did not start: ${sink.output.stderr}`);
  return sink;
}

async function stopSink(sink, waitMs) {
  if (!(await within(sink.exited, waitMs))) {
    sink.kill('SIGTERM');
    if (!(await within(sink.exited, 2000))) sink.kill('SIGKILL');
    await sink.exited;
  }
  const line = sink.output.stdout.split('\n').find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : { received: 0 };
}

const lastJsonLine = (text) => {
  const line = text.split('\n').filter((l) => l.startsWith('{')).pop();
  return line ? JSON.parse(line) : undefined;
};

/**
 * Starts contender `c` under runstat and waits until it has bound the queue in copy mode packet.
 * Returns { consumer } (consumer.pid is runstat's or ip's, consumer.contenderPid the contender's,
 * consumer.done true once it exited, consumer.report what runstat wrote), with `error` if it failed.
 */
async function startConsumer(env, c, count, extraArgs = []) {
  const { ns, anchor, queue } = env;
  const wrapped = [join(BUILD_DIR, 'runstat'), ...c.argv(String(queue), String(count), ns), ...extraArgs];
  const consumer = start(c.inNamespace ? ['ip', 'netns', 'exec', ns, ...wrapped] : wrapped, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  consumer.report = '';
  consumer.stdio[3].on('data', (d) => (consumer.report += d));
  consumer.reportClosed = new Promise((resolve) => consumer.stdio[3].on('close', resolve));
  consumer.done = false;
  consumer.exited.then(() => (consumer.done = true));

  // Wait until the queue is bound and configured (copy mode packet), or the consumer gave up.
  let bound = false;
  for (let waited = 0; waited < 20_000 && !consumer.done; waited += 5) {
    const stats = kernelQueueStats(anchor.pid, queue);
    if (stats && stats.copyMode === 2) {
      bound = true;
      consumer.stdoutBytesAtBind = consumer.output.stdoutBytes; // what follows is the run's (GC lines)
      break;
    }
    await sleep(5);
  }
  if (!bound) return { consumer, error: consumer.done ? 'the consumer exited before binding' : 'the consumer did not bind the queue within 20 s' };
  const pidMatch = /pid (\d+)/.exec(consumer.report);
  if (!pidMatch) return { consumer, error: 'runstat reported no pid' };
  const contenderPid = Number(pidMatch[1]);
  consumer.contenderPid = contenderPid;
  consumerPids.add(contenderPid);
  consumer.exited.then(() => consumerPids.delete(contenderPid));
  return { consumer };
}

/** SIGTERM (runstat passes it on), SIGKILL after 3 s; returns runstat's JSON line, if any. */
async function stopConsumer(consumer) {
  if (!consumer.done) consumer.kill('SIGTERM');
  if (!(await within(consumer.exited, 3000))) {
    if (consumer.contenderPid) {
      try {
        process.kill(consumer.contenderPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    consumer.kill('SIGKILL');
  }
  await consumer.exited;
  await within(consumer.reportClosed, 2000);
  return lastJsonLine(consumer.report);
}

/**
 * Runs contender `c` once on scenario `s`: sink (accept paths), consumer (waits until it has bound
 * the queue in copy mode packet), flood; then measures. Returns the run's figures, or `error`.
 */
async function runOnce(env, c, s) {
  const { ns, anchor, queue } = env;
  const count = s.packets;
  const sink = s.verdict === 'accept' ? await startSink(ns, { port: QUEUED_PORT, count, latency: s.latency }) : null;

  const started = await startConsumer(env, c, count, s.verdict === 'drop' ? ['--drop'] : []);
  const { consumer } = started;
  const failRun = async (why) => {
    consumer.kill('SIGTERM'); // runstat passes it on to the contender
    if (!(await within(consumer.exited, 3000))) consumer.kill('SIGKILL');
    if (sink) await stopSink(sink, 0);
    await consumer.exited;
    return { error: `${why}${consumer.output.stderr ? `: ${tail(consumer.output.stderr, 3)}` : ''}` };
  };
  if (started.error) return failRun(started.error);
  const consumerPid = consumer.contenderPid;
  const before = processCost(consumerPid);

  const floodArgv = ['ip', 'netns', 'exec', ns, join(BUILD_DIR, 'flood'), String(count), String(s.size), '--port', String(QUEUED_PORT)];
  if (s.rate) floodArgv.push('--rate', String(s.rate));
  if (s.sendBuffer) floodArgv.push('--sndbuf', String(s.sendBuffer));
  const flood = start(floodArgv);
  let floodDone = false;
  flood.exited.then(() => (floodDone = true));

  // Follow the kernel's count of verdicted packets (id sequence - waiting) until the consumer exits,
  // or the flood is over and nothing moved for a second (packets lost: the consumer waits forever).
  const deadline = Date.now() + 15_000 + (count / 10_000) * 1000 * (s.rate ? 10_000 / s.rate : 1);
  let verdicted = 0; // as the kernel counts them, polled
  let lost = 0;
  let lastChange = process.hrtime.bigint();
  let stalled = false;
  let timedOut = false;
  while (!consumer.done) {
    const stats = kernelQueueStats(anchor.pid, queue);
    const now = process.hrtime.bigint();
    if (stats) {
      // Packets the kernel could not hand over (socket full: user_dropped) took an id too.
      const v = stats.idSequence - stats.waiting - stats.userDropped;
      lost = stats.userDropped + stats.queueDropped;
      if (v !== verdicted) (verdicted = v), (lastChange = now);
    }
    if (floodDone && now - lastChange > 300_000_000n) {
      stalled = true;
      break;
    }
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    await sleep(2);
  }
  const exitedOnItsOwn = consumer.done;
  if (!consumer.done) {
    process.kill(consumerPid, 'SIGKILL');
    await consumer.exited;
  }
  await within(consumer.reportClosed, 2000);
  const usage = lastJsonLine(consumer.report);
  if (!(await within(flood.exited, 5000))) flood.kill('SIGKILL');
  await flood.exited;
  const floodReport = lastJsonLine(flood.output.stdout);
  const sinkReport = sink ? await stopSink(sink, 1000) : undefined;
  if (!floodReport) return { error: `the flood failed: ${tail(flood.output.stderr, 3)}` };
  if (timedOut) return { error: `timed out after ${verdicted} verdicts` };

  const sinceBind = consumer.output.stdout.slice(-(consumer.output.stdoutBytes - consumer.stdoutBytesAtBind) || consumer.output.stdout.length);
  const result = { packets: count, sent: floodReport.sent, sendErrors: floodReport.errors, lostInKernel: lost, gc: c.argv('0', '0', '')[1] === '--trace-gc' ? gcFigures(sinceBind) : undefined };
  if (sink) {
    result.verdicted = sinkReport.received;
    const seconds = (sinkReport.last_ns - floodReport.start_ns) / 1e9;
    result.packetsPerSecond = sinkReport.received > 0 && seconds > 0 ? sinkReport.received / seconds : 0;
    if (sinkReport.latency_ns) result.latency = sinkReport.latency_ns;
    if (sinkReport.steady_latency_ns) result.steadyLatency = sinkReport.steady_latency_ns;
  } else {
    // The queue's line disappears when the consumer unbinds, so the last poll may miss the last
    // few verdicts: the rate comes from what the polls saw, the count from a clean exit.
    const exitedCleanly = exitedOnItsOwn && usage?.status === 0;
    result.verdicted = exitedCleanly ? count : verdicted;
    const seconds = Number(lastChange - BigInt(floodReport.start_ns)) / 1e9;
    result.packetsPerSecond = verdicted > 0 && seconds > 0 ? verdicted / seconds : 0;
  }
  if (usage && before) {
    const cpu = usage.utime_us + usage.stime_us - before.cpuMicros;
    result.cpuMicrosPerPacket = result.verdicted > 0 ? cpu / result.verdicted : undefined;
    result.systemShare = usage.utime_us + usage.stime_us > 0 ? usage.stime_us / (usage.utime_us + usage.stime_us) : undefined;
    result.peakRssKb = usage.maxrss_kb;
    result.rssGrowthKb = usage.maxrss_kb - before.rssKb;
  }
  if (stalled) result.note = `stalled at ${verdicted} of ${count} verdicts, ${lost} packets lost in the kernel (overruns), consumer killed`;
  if (result.verdicted + lost < count * 0.99) result.error = `only ${result.verdicted} of ${count} packets verdicted${result.note ? ` (${result.note})` : ''}`;
  return result;
}

/** The latency baseline: the same paced flood to a port no rule queues. */
async function runUnqueued(env, s) {
  const sink = await startSink(env.ns, { port: UNQUEUED_PORT, count: s.packets, latency: true });
  const flood = start(['ip', 'netns', 'exec', env.ns, join(BUILD_DIR, 'flood'), String(s.packets), String(s.size), '--port', String(UNQUEUED_PORT), '--rate', String(s.rate)]);
  await flood.exited;
  const report = await stopSink(sink, 2000);
  return { packets: s.packets, verdicted: report.received, latency: report.latency_ns, steadyLatency: report.steady_latency_ns };
}

/** True when a TCP socket of the namespace listens on `port` (IPv4 or IPv6). */
function tcpListening(anchorPid, port) {
  for (const file of ['tcp', 'tcp6']) {
    let text;
    try {
      text = readFileSync(`/proc/${anchorPid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port) return true;
    }
  }
  return false;
}

/** Collects all of a child's stdout (start() keeps only the last 64 KB). */
function collectStdout(child) {
  const out = { text: '' };
  child.stdout.on('data', (d) => (out.text += d));
  return out;
}

/** Queue counters between two kernelQueueStats() samples: packets queued, packets lost. */
const queueDelta = (before, after) =>
  before && after ? { queued: after.idSequence - before.idSequence, lost: after.userDropped + after.queueDropped - before.userDropped - before.queueDropped } : {};

/**
 * Starts contender `c` with a count no run reaches, for a run that stops it itself (none when
 * `c` is null). `errorWith(why)` stops it and gives the run's error, with the consumer's last
 * stderr lines; `error` is set when it did not start or bind.
 */
async function startUntilStopped(env, c) {
  let consumer = null;
  const errorWith = async (why) => {
    if (consumer) await stopConsumer(consumer);
    return { error: `${why}${consumer?.output.stderr ? `: ${tail(consumer.output.stderr, 3)}` : ''}` };
  };
  if (!c) return { consumer, errorWith };
  const started = await startConsumer(env, c, FOREVER);
  consumer = started.consumer;
  return { consumer, errorWith, error: started.error };
}

/**
 * One run of the TCP scenario: iperf3 server and client in the namespace, through contender `c`
 * (started with a count no run reaches, stopped by SIGTERM once iperf3 is done), or with no
 * consumer to the port no rule queues (`c` null). The consumer's CPU time is sampled from
 * /proc/<pid>/stat just before the client starts and just after it ends.
 */
async function runTcp(env, c, s) {
  const { ns, anchor, queue } = env;
  const port = c ? IPERF_PORT : IPERF_UNQUEUED_PORT;
  const { consumer, errorWith, error } = await startUntilStopped(env, c);
  if (error) return errorWith(error);
  const server = start(['ip', 'netns', 'exec', ns, 'iperf3', '-s', '-1', '-p', String(port)]);
  let serverDone = false;
  server.exited.then(() => (serverDone = true));
  for (let i = 0; i < 1000 && !serverDone && !tcpListening(anchor.pid, port); i++) await sleep(5);
  if (!tcpListening(anchor.pid, port)) {
    server.kill('SIGKILL');
    await server.exited;
    return errorWith(`the iperf3 server did not start: ${tail(server.output.stderr || server.output.stdout, 3)}`);
  }
  const before = consumer && processCost(consumer.contenderPid);
  const queueBefore = consumer && kernelQueueStats(anchor.pid, queue);
  const client = start(['ip', 'netns', 'exec', ns, 'iperf3', '-c', '127.0.0.1', '-p', String(port), '-t', String(s.iperfSeconds), '-J']);
  const clientOut = collectStdout(client);
  const finished = await within(client.exited, (s.iperfSeconds + 20) * 1000);
  const after = consumer && processCost(consumer.contenderPid);
  const delta = consumer ? queueDelta(queueBefore, kernelQueueStats(anchor.pid, queue)) : {};
  const consumerDied = consumer?.done;
  if (!finished) client.kill('SIGKILL');
  await client.exited;
  // The server (-1) exits once the client is gone; the consumer stays until then (FIN, ACKs).
  if (!(await within(server.exited, 3000))) server.kill('SIGKILL');
  await server.exited;
  if (consumerDied) return errorWith('the consumer exited during the iperf3 run');
  const usage = consumer ? await stopConsumer(consumer) : undefined;
  if (!finished) return { error: `iperf3 did not finish within ${s.iperfSeconds + 20} s (the consumer stalled?)`, lostInKernel: delta.lost };
  let report;
  try {
    report = JSON.parse(clientOut.text);
  } catch {
    return { error: `iperf3 printed no JSON: ${tail(client.output.stderr || clientOut.text, 3)}` };
  }
  const received = report.end?.sum_received;
  if (report.error || !received) return { error: `iperf3: ${report.error ?? 'no end.sum_received in its report'}` };
  const result = {
    seconds: received.seconds,
    bytes: received.bytes,
    gbps: received.bits_per_second / 1e9,
    retransmits: report.end.sum_sent?.retransmits,
  };
  if (consumer) {
    result.queued = delta.queued;
    result.lostInKernel = delta.lost;
    if (before && after) {
      result.cpuSeconds = (after.cpuMicros - before.cpuMicros) / 1e6;
      result.cpuSecondsPerGB = received.bytes > 0 ? result.cpuSeconds / (received.bytes / 1e9) : undefined;
    }
    if (usage) result.consumerExit = { status: usage.status, signal: usage.signal };
  }
  return result;
}

/** p50, p99, p99.9 and max of `values` (µs), as sink.c picks them (sorted[n * q]). */
function percentiles(values) {
  const v = [...values].sort((x, y) => x - y);
  const n = v.length;
  if (!n) return undefined;
  return { n, p50: v[Math.floor(n / 2)], p99: v[Math.floor((n * 99) / 100)], p999: v[Math.floor((n * 999) / 1000)], max: v[n - 1] };
}

/**
 * One run of the ping scenario: `ping -i 0.001` to 127.0.0.1 through contender `c` (echo request
 * and reply both queued), or to 127.0.0.2, which no rule queues, with no consumer (`c` null).
 * The round-trip times are ping's own `time=` of each reply.
 */
async function runPing(env, c, s) {
  const { ns, anchor, queue } = env;
  const { consumer, errorWith, error } = await startUntilStopped(env, c);
  if (error) return errorWith(error);
  const queueBefore = consumer && kernelQueueStats(anchor.pid, queue);
  const target = c ? '127.0.0.1' : PING_UNQUEUED_ADDRESS;
  const ping = start(['ip', 'netns', 'exec', ns, 'ping', '-n', '-i', String(1 / PING_RATE), '-c', String(s.count), '-W', '2', target]);
  const pingOut = collectStdout(ping);
  const limit = (s.count / PING_RATE) * 1000 + 20_000;
  const finished = await within(ping.exited, limit);
  const delta = consumer ? queueDelta(queueBefore, kernelQueueStats(anchor.pid, queue)) : {};
  const consumerDied = consumer?.done;
  if (!finished) ping.kill('SIGKILL');
  const { code } = await ping.exited;
  if (consumerDied) return errorWith('the consumer exited during the ping run');
  if (consumer) await stopConsumer(consumer);
  if (!finished) return { error: `ping did not finish within ${limit / 1000} s`, lostInKernel: delta.lost };
  const times = [];
  for (const line of pingOut.text.split('\n')) {
    if (line.includes('DUP!')) continue;
    const match = /time=([\d.]+) ms/.exec(line);
    if (match) times.push(Number(match[1]) * 1000);
  }
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(pingOut.text);
  if (code === 2 || !summary) return { error: `ping failed (exit ${code}): ${tail(ping.output.stderr || pingOut.text, 3)}` };
  const result = { sent: Number(summary[1]), received: Number(summary[2]), rtt: percentiles(times) };
  if (consumer) (result.queued = delta.queued), (result.lostInKernel = delta.lost);
  if (!result.rtt) result.error = `no reply to ${result.sent} pings`;
  return result;
}

// ---------------------------------------------------------------- statistics and reports

const median = (values) => {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((x, y) => x - y);
  if (!v.length) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

function summarize(runs) {
  const ok = runs.filter((r) => !r.error);
  const pings = ok.filter((r) => r.rtt);
  return {
    okRuns: ok.length,
    runs: runs.length,
    packetsPerSecond: median(ok.map((r) => r.packetsPerSecond)),
    cpuMicrosPerPacket: median(ok.map((r) => r.cpuMicrosPerPacket)),
    systemShare: median(ok.map((r) => r.systemShare)),
    peakRssKb: median(ok.map((r) => r.peakRssKb)),
    rssGrowthKb: median(ok.map((r) => r.rssGrowthKb)),
    latencyP50Micros: median(ok.map((r) => r.latency?.p50 / 1000)),
    latencyP99Micros: median(ok.map((r) => r.latency?.p99 / 1000)),
    latencyMaxMicros: median(ok.map((r) => r.latency?.max / 1000)),
    steadyP50Micros: median(ok.map((r) => r.steadyLatency?.p50 / 1000)),
    steadyP99Micros: median(ok.map((r) => r.steadyLatency?.p99 / 1000)),
    lostInKernel: runs.reduce((sum, r) => sum + (r.lostInKernel ?? 0), 0),
    scavengesPerMillion: median(ok.filter((r) => r.gc).map((r) => (r.gc.scavenges / r.verdicted) * 1e6)),
    markCompactsPerMillion: median(ok.filter((r) => r.gc).map((r) => (r.gc.markCompacts / r.verdicted) * 1e6)),
    longestGcPauseMs: median(ok.filter((r) => r.gc).map((r) => r.gc.longestPauseMs)),
    errors: runs.filter((r) => r.error).map((r) => r.error),
    // tcp-iperf3
    gbps: median(ok.map((r) => r.gbps)),
    cpuSeconds: median(ok.map((r) => r.cpuSeconds)),
    cpuSecondsPerGB: median(ok.map((r) => r.cpuSecondsPerGB)),
    queued: median(ok.map((r) => r.queued)),
    lostPerRun: median(ok.map((r) => r.lostInKernel)),
    retransmits: median(ok.map((r) => r.retransmits)),
    // ping-rtt
    rttP50Micros: median(ok.map((r) => r.rtt?.p50)),
    rttP99Micros: median(ok.map((r) => r.rtt?.p99)),
    rttP999Micros: median(ok.map((r) => r.rtt?.p999)),
    rttMaxMicros: median(ok.map((r) => r.rtt?.max)),
    pingsSent: pings.length ? pings.reduce((sum, r) => sum + r.sent, 0) : undefined,
    pingsLost: pings.length ? pings.reduce((sum, r) => sum + r.sent - r.received, 0) : undefined,
  };
}

const fmt = (n, digits = 0) => (n === undefined || !Number.isFinite(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (x, y) => (x === undefined || y === undefined || !y ? undefined : x / y);
const fmtRatio = (r) => (r === undefined ? '–' : `${r.toFixed(2)}x`);

function scenarioTable(scenario, summaries, labels) {
  const a = summaries.a;
  const b = summaries.b;
  const rows = [];
  if (scenario.kind === 'tcp') {
    rows.push(
      '| contender | Gbit/s | vs (b) | consumer CPU s | CPU s per GB | CPU/GB vs (b) | packets queued | lost in the queue | TCP retransmits | runs ok |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [id, s] of Object.entries(summaries)) {
      rows.push(
        `| ${labels[id]} | ${fmt(s.gbps, 2)} | ${fmtRatio(ratio(s.gbps, b?.gbps))} | ${fmt(s.cpuSeconds, 2)} | ${fmt(s.cpuSecondsPerGB, 3)} | ${fmtRatio(ratio(s.cpuSecondsPerGB, b?.cpuSecondsPerGB))} | ${fmt(s.queued)} | ${fmt(s.lostPerRun)} | ${fmt(s.retransmits)} | ${s.okRuns}/${s.runs} |`,
      );
    }
    return rows.join('\n');
  }
  if (scenario.kind === 'ping') {
    rows.push('| contender | p50 µs | p99 µs | p99.9 µs | max µs | pings lost | runs ok |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [id, s] of Object.entries(summaries)) {
      rows.push(
        `| ${labels[id]} | ${fmt(s.rttP50Micros)} | ${fmt(s.rttP99Micros)} | ${fmt(s.rttP999Micros)} | ${fmt(s.rttMaxMicros)} | ${fmt(s.pingsLost)} of ${fmt(s.pingsSent)} | ${s.okRuns}/${s.runs} |`,
      );
    }
    return rows.join('\n');
  }
  if (scenario.latency) {
    rows.push(
      '| contender | p50 µs | p99 µs | max µs | after warm-up: p50 µs | p99 µs | longest GC pause µs | runs ok |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [id, s] of Object.entries(summaries)) {
      rows.push(
        `| ${labels[id]} | ${fmt(s.latencyP50Micros, 1)} | ${fmt(s.latencyP99Micros, 1)} | ${fmt(s.latencyMaxMicros, 0)} | ${fmt(s.steadyP50Micros, 1)} | ${fmt(s.steadyP99Micros, 1)} | ${fmt(s.longestGcPauseMs * 1000)} | ${s.okRuns}/${s.runs} |`,
      );
    }
    return rows.join('\n');
  }
  rows.push(
    '| contender | packets/s | vs (a) | vs (b) | CPU µs/packet | CPU vs (b) | kernel share | peak RSS MB | GC scavenges per 1M packets | runs ok |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [id, s] of Object.entries(summaries)) {
    if (id.startsWith('f+')) continue; // tweaks: their own table
    rows.push(
      `| ${labels[id]} | ${fmt(s.packetsPerSecond)} | ${fmtRatio(ratio(s.packetsPerSecond, a?.packetsPerSecond))} | ${fmtRatio(ratio(s.packetsPerSecond, b?.packetsPerSecond))} | ${fmt(s.cpuMicrosPerPacket, 2)} | ${fmtRatio(ratio(s.cpuMicrosPerPacket, b?.cpuMicrosPerPacket))} | ${s.systemShare === undefined ? '–' : `${Math.round(s.systemShare * 100)}%`} | ${fmt(s.peakRssKb / 1024, 1)} | ${fmt(s.scavengesPerMillion)} | ${s.okRuns}/${s.runs} |`,
    );
  }
  return rows.join('\n');
}

/** Each tweak's packets/s and CPU per packet as ratios to plain (f); null when none ran. */
function tweakTable(summaries, labels) {
  const base = summaries.f;
  const ids = Object.keys(summaries).filter((id) => id.startsWith('f+'));
  if (!base || ids.length === 0) return null;
  const rows = ['| nf-queue --quiet with | packets/s | vs (f) | CPU µs/packet | CPU vs (f) | runs ok |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  rows.push(`| (nothing: (f) itself) | ${fmt(base.packetsPerSecond)} | 1.00x | ${fmt(base.cpuMicrosPerPacket, 2)} | 1.00x | ${base.okRuns}/${base.runs} |`);
  for (const id of ids) {
    const s = summaries[id];
    rows.push(
      `| ${labels[id].replace(/^\(f\+[^)]*\) nf-queue --quiet /, '')} | ${fmt(s.packetsPerSecond)} | ${fmtRatio(ratio(s.packetsPerSecond, base.packetsPerSecond))} | ${fmt(s.cpuMicrosPerPacket, 2)} | ${fmtRatio(ratio(s.cpuMicrosPerPacket, base.cpuMicrosPerPacket))} | ${s.okRuns}/${s.runs} |`,
    );
  }
  return rows.join('\n');
}

/** The issue's targets that this harness measures, each PASS, FAIL or SKIP with the figures. */
function checkTargets(results, options) {
  const main = results['accept-64']?.summaries ?? {};
  const latency = results['latency-10k']?.summaries ?? {};
  const a = main.a;
  const b = main.b;
  const lines = [];
  const check = (name, ids, test) => {
    for (const id of ids) {
      const s = main[id];
      if (!s || s.packetsPerSecond === undefined || !a?.packetsPerSecond || !b?.packetsPerSecond) {
        lines.push({ status: 'SKIP', text: `${name} [${id}]: not measured (contender, (a) or (b) missing)` });
        continue;
      }
      const { pass, detail } = test(s);
      lines.push({ status: pass ? 'PASS' : 'FAIL', text: `${name} [${id}]: ${detail}` });
    }
  };
  const pps = (s, base, min, label) => {
    const r = s.packetsPerSecond / base.packetsPerSecond;
    return { pass: r >= min, detail: `packets/s ${fmt(s.packetsPerSecond)} = ${r.toFixed(2)}x ${label} (target >= ${min}x)` };
  };
  const cpu = (s, max) => {
    if (s.cpuMicrosPerPacket === undefined || b.cpuMicrosPerPacket === undefined) return { pass: false, detail: 'CPU not measured' };
    const r = s.cpuMicrosPerPacket / b.cpuMicrosPerPacket;
    return { pass: r <= max, detail: `CPU ${s.cpuMicrosPerPacket.toFixed(2)} µs/packet = ${r.toFixed(2)}x (b) (target <= ${max}x)` };
  };
  check('headline: nf-queue --quiet >= 1.5x (a)', ['f'], (s) => pps(s, a, 1.5, '(a)'));
  check('headline: nf-queue --quiet >= 0.7x (b)', ['f'], (s) => pps(s, b, 0.7, '(b)'));
  check('CLI and callback/batch API >= 2.0x (a)', ['f', 'd', 'd.batches'], (s) => pps(s, a, 2.0, '(a)'));
  check('CLI and callback/batch API >= 0.9x (b)', ['f', 'd', 'd.batches'], (s) => pps(s, b, 0.9, '(b)'));
  check('CLI and callback/batch API CPU <= 1.5x (b)', ['f', 'd', 'd.batches'], (s) => cpu(s, 1.5));
  check('async iterator >= 1.5x (a)', ['e'], (s) => pps(s, a, 1.5, '(a)'));
  check('Rust example >= 0.95x (b)', ['c'], (s) => pps(s, b, 0.95, '(b)'));
  check('Rust example CPU <= 1.1x (b)', ['c'], (s) => cpu(s, 1.1));
  for (const id of ['c', 'd', 'd.batches', 'e', 'f']) {
    const s = latency[id];
    const base = latency.a;
    if (!s?.latencyP99Micros || !base?.latencyP99Micros) {
      lines.push({ status: 'SKIP', text: `p99 latency at 10k packets/s no worse than (a) [${id}]: not measured` });
      continue;
    }
    const pass = s.latencyP99Micros <= base.latencyP99Micros * 1.0;
    lines.push({ status: pass ? 'PASS' : 'FAIL', text: `p99 latency at 10k packets/s no worse than (a) [${id}]: ${s.latencyP99Micros.toFixed(1)} µs vs ${base.latencyP99Micros.toFixed(1)} µs` });
  }
  for (const id of ['c', 'd', 'f']) {
    const s = main[id];
    if (s?.rssGrowthKb === undefined) continue;
    lines.push({
      status: 'INFO',
      text: `RSS growth [${id}]: ${(s.rssGrowthKb / 1024).toFixed(1)} MB from bound to exit over ${fmt(options.packets)} packets (the target is <= 5 MB over 10M packets: run with --only ${id[0]} --packets 10000000 --rounds 1 to measure it)`,
    });
  }
  return lines;
}

/** A hand-written SVG: packets/s and CPU µs/packet of each contender, 64-byte accept scenario. */
function svgChart(summaries, labels, machine) {
  const entries = Object.entries(summaries).filter(([id, s]) => s.packetsPerSecond !== undefined && !id.startsWith('f+'));
  const rowHeight = 22;
  const labelWidth = 330;
  const barWidth = 300;
  const gap = 60;
  const top = 70;
  const width = labelWidth + 2 * barWidth + gap + 80;
  const height = top + entries.length * rowHeight + 40;
  const maxPps = Math.max(...entries.map(([, s]) => s.packetsPerSecond), 1);
  const maxCpu = Math.max(...entries.map(([, s]) => s.cpuMicrosPerPacket ?? 0), 0.001);
  const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const colour = (id) => ({ a: '#9e9e9e', b: '#616161', c: '#d9822b', g: '#00add8', h: '#3572a5' })[id] ?? '#2e7d32';
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">NFQUEUE: 64-byte UDP flood, accept (median of rounds)</text>`,
    `<text x="10" y="38" fill="#555">${esc(machine)}</text>`,
    `<text x="${labelWidth}" y="${top - 10}" font-weight="bold">packets/s (higher is better)</text>`,
    `<text x="${labelWidth + barWidth + gap}" y="${top - 10}" font-weight="bold">CPU µs per packet (lower is better)</text>`,
  ];
  entries.forEach(([id, s], i) => {
    const y = top + i * rowHeight;
    const ppsWidth = (s.packetsPerSecond / maxPps) * barWidth;
    const cpuWidth = ((s.cpuMicrosPerPacket ?? 0) / maxCpu) * barWidth;
    out.push(
      `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${esc(`(${id}) ${labels[id].replace(/^\(\S+\) /, '')}`)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${ppsWidth.toFixed(1)}" height="${rowHeight - 6}" fill="${colour(id)}"/>`,
      `<text x="${(labelWidth + ppsWidth + 4).toFixed(1)}" y="${y + 14}">${fmt(s.packetsPerSecond / 1000)}k</text>`,
      `<rect x="${labelWidth + barWidth + gap}" y="${y + 3}" width="${cpuWidth.toFixed(1)}" height="${rowHeight - 6}" fill="${colour(id)}" opacity="0.75"/>`,
      `<text x="${(labelWidth + barWidth + gap + cpuWidth + 4).toFixed(1)}" y="${y + 14}">${s.cpuMicrosPerPacket === undefined ? '–' : s.cpuMicrosPerPacket.toFixed(2)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function machineDescription() {
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return { nproc: cpus().length, cpu, kernel: release(), node: process.version };
}

// ---------------------------------------------------------------- main

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) fail('needs root (network namespaces, iptables, binding a queue)');
  for (const tool of ['ip', 'iptables', 'gcc']) {
    if (run(['sh', '-c', `command -v ${tool}`]).status !== 0) fail(`'${tool}' not found: run bash scripts/setup.sh`);
  }
  const started = Date.now();
  const machine = machineDescription();
  const machineLine = `${machine.nproc} cores, ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}`;
  console.log(`queue-bench: ${machineLine}`);

  const unavailable = buildAll(options);
  let contenders = CONTENDERS.filter((c) => (!options.only || options.only.includes(letter(c.id))) && (options.tweaks || !c.tweak));
  for (const c of contenders) {
    if (unavailable[letter(c.id)]) console.log(`(${c.id}) ${c.label}: NOT RUN: ${unavailable[letter(c.id)]}`);
  }
  contenders = contenders.filter((c) => !unavailable[letter(c.id)]);
  if (!contenders.length) fail('no contender can run');
  const labels = Object.fromEntries(CONTENDERS.map((c) => [c.id, `(${c.id}) ${c.label}`]));

  const quarter = Math.max(1000, Math.round(options.packets / 4));
  // 3 s at 10,000/s: the "after warm-up" figures (the sink leaves out the first fifth, 0.6 s)
  // then fall after the Node contenders' JIT compilation, which takes about the first 0.4 s.
  const latencyPackets = options.quick ? 3000 : 30_000;
  const iperfSeconds = options.quick ? 2 : 4;
  const pings = options.quick ? 1000 : PING_COUNT;
  const allScenarios = [
    { name: 'accept-64', title: '64-byte datagrams, accept', size: 64, verdict: 'accept', packets: options.packets },
    { name: 'drop-64', title: '64-byte datagrams, drop (no sink: the kernel counts verdicts)', size: 64, verdict: 'drop', packets: quarter },
    // A smaller send buffer for the large datagrams (see flood.c), so that no consumer overruns.
    // As many packets as the 64-byte runs: a quarter (0.25 s) would measure mostly the Node
    // contenders' JIT warm-up, whose compile threads' CPU is then charged to few packets.
    { name: 'accept-1400', title: '1400-byte datagrams, accept', size: 1400, verdict: 'accept', packets: options.packets, sendBuffer: 65536 },
    { name: 'latency-10k', title: `latency at ${LATENCY_RATE.toLocaleString('en-US')} packets/s, 64 bytes, accept: send to arrival after the verdict`, size: 64, verdict: 'accept', packets: latencyPackets, rate: LATENCY_RATE, latency: true },
    // Contenders that run forever and are stopped by SIGTERM: `contenders` lists them.
    { name: 'tcp-iperf3', title: 'TCP through the queue: iperf3 over lo (GSO), data and ACKs queued', kind: 'tcp', verdict: 'accept', iperfSeconds, perRun: `iperf3 -t ${iperfSeconds} per run`, contenders: ['b', 'c', 'd', 'f'], needs: 'iperf3' },
    { name: 'ping-rtt', title: `ping at ${PING_RATE.toLocaleString('en-US')}/s: round-trip time, echo request and reply queued`, kind: 'ping', verdict: 'accept', count: pings, perRun: `${fmt(pings)} pings per run`, contenders: ['a', 'b', 'c', 'd', 'f'], needs: 'ping' },
  ];
  for (const name of options.scenarios ?? []) {
    if (!allScenarios.some((s) => s.name === name)) fail(`unknown scenario '${name}' (${allScenarios.map((s) => s.name).join(', ')})`);
  }
  const scenarios = allScenarios.filter((s) => !options.scenarios || options.scenarios.includes(s.name));
  for (const s of scenarios) {
    if (s.needs && run(['sh', '-c', `command -v ${s.needs}`]).status !== 0) {
      s.notRun = `'${s.needs}' not found (apt-get install ${s.needs === 'ping' ? 'iputils-ping' : s.needs}, or bash scripts/setup.sh)`;
      console.log(`${s.name}: NOT RUN: ${s.notRun}`);
    }
  }
  const runnable = (name) => scenarios.some((s) => s.name === name && !s.notRun);

  const ns = await setUpNamespace(options.queue, { tcp: runnable('tcp-iperf3'), ping: runnable('ping-rtt') });
  const env = { ns: ns.name, anchor: ns.anchor, queue: options.queue };
  console.log(`namespace ${ns.name}: ${ns.rules.join('; ')}`);
  console.log(`${options.rounds} round(s); ${fmt(options.packets)} packets per 64-byte accept run\n`);

  const runs = Object.fromEntries(scenarios.map((s) => [s.name, {}]));
  for (const s of scenarios) if (s.latency || s.kind) runs[s.name].none = [];
  const describe = (scenario, result) => {
    if (result.error) return `FAILED: ${result.error}`;
    if (scenario.kind === 'tcp') {
      const cpu = result.cpuSeconds === undefined ? '' : `, consumer ${fmt(result.cpuSeconds, 2)} CPU s = ${fmt(result.cpuSecondsPerGB, 3)} s/GB`;
      const queued = result.queued === undefined ? '' : `, ${fmt(result.queued)} packets queued, ${fmt(result.lostInKernel)} lost in the queue`;
      return `${fmt(result.gbps, 2)} Gbit/s${cpu}${queued}, ${fmt(result.retransmits)} retransmits`;
    }
    if (scenario.kind === 'ping') {
      const r = result.rtt;
      return `p50 ${fmt(r.p50)} µs, p99 ${fmt(r.p99)} µs, p99.9 ${fmt(r.p999)} µs, max ${fmt(r.max)} µs, ${result.sent - result.received} of ${result.sent} lost`;
    }
    if (scenario.latency) return `p50 ${fmt(result.latency?.p50 / 1000, 1)} µs, p99 ${fmt(result.latency?.p99 / 1000, 1)} µs`;
    return `${fmt(result.packetsPerSecond)} packets/s, ${fmt(result.cpuMicrosPerPacket, 2)} µs/packet, peak RSS ${fmt(result.peakRssKb / 1024, 1)} MB`;
  };
  const runners = { tcp: runTcp, ping: runPing };
  const scenarioMs = Object.fromEntries(scenarios.map((s) => [s.name, 0]));
  for (let round = 0; round < options.rounds; round++) {
    for (const scenario of scenarios) {
      // The targets are judged on 64-byte accept: it runs every round; the rest in the first 3.
      if (scenario.notRun || (scenario.name !== 'accept-64' && round >= SIDE_ROUNDS)) continue;
      const scenarioStart = Date.now();
      const eligible = contenders.filter(
        (c) =>
          (scenario.verdict !== 'drop' || c.drop) &&
          (!c.tweak || (scenario.name === 'accept-64' && round < SIDE_ROUNDS)) &&
          (!scenario.contenders || scenario.contenders.includes(c.id)),
      );
      const order = eligible.map((_, i) => eligible[(i + round) % eligible.length]);
      const runner = runners[scenario.kind] ?? runOnce;
      for (const c of order) {
        const result = await runner(env, c, scenario);
        (runs[scenario.name][c.id] ??= []).push(result);
        console.log(`round ${round + 1} ${scenario.name.padEnd(11)} (${c.id}) ${describe(scenario, result)}`);
      }
      if (scenario.latency || scenario.kind) {
        const result = scenario.kind ? await runner(env, null, scenario) : await runUnqueued(env, scenario);
        runs[scenario.name].none.push(result);
        console.log(`round ${round + 1} ${scenario.name.padEnd(11)} (no queue) ${describe(scenario, result)}`);
      }
      scenarioMs[scenario.name] += Date.now() - scenarioStart;
    }
  }
  teardown();

  labels.none = '(no queue: the rule does not match)';
  const results = {};
  const sideRounds = Math.min(SIDE_ROUNDS, options.rounds);
  const roundsLine = sideRounds === options.rounds ? `${options.rounds} round(s)` : `${options.rounds} rounds of 64-byte accept, ${sideRounds} of the rest and of the tweaks`;
  const report = [`Machine: ${machineLine}. ${roundsLine}, medians.`, ''];
  for (const scenario of scenarios) {
    const summaries = {};
    for (const [id, list] of Object.entries(runs[scenario.name])) if (list.length) summaries[id] = summarize(list);
    const ids = Object.keys(summaries);
    const vs = (s, base) =>
      scenario.kind === 'tcp'
        ? { gbps: ratio(s.gbps, base?.gbps), cpuSecondsPerGB: ratio(s.cpuSecondsPerGB, base?.cpuSecondsPerGB) }
        : scenario.kind === 'ping'
          ? { rttP50Micros: ratio(s.rttP50Micros, base?.rttP50Micros), rttP99Micros: ratio(s.rttP99Micros, base?.rttP99Micros) }
          : { packetsPerSecond: ratio(s.packetsPerSecond, base?.packetsPerSecond), cpuMicrosPerPacket: ratio(s.cpuMicrosPerPacket, base?.cpuMicrosPerPacket) };
    for (const id of ids) {
      const s = summaries[id];
      s.vsA = vs(s, summaries.a);
      s.vsB = vs(s, summaries.b);
    }
    results[scenario.name] = { ...scenario, elapsedSeconds: scenarioMs[scenario.name] / 1000, summaries, runs: runs[scenario.name] };
    const perRun = scenario.perRun ?? `${fmt(scenario.packets)} packets per run`;
    if (scenario.notRun) {
      report.push(`### ${scenario.title} (${perRun})`, '', `NOT RUN: ${scenario.notRun}`, '');
      continue;
    }
    report.push(`### ${scenario.title} (${perRun})`, '', scenarioTable(scenario, summaries, labels), '');
    const failures = Object.entries(summaries).flatMap(([id, s]) => s.errors.map((e) => `- (${id}): ${e}`));
    if (failures.length) report.push('Failed runs:', ...failures, '');
    // tcp-iperf3 has its own column for them (TCP retransmits what the queue lost)
    const losses = Object.entries(summaries).filter(([, s]) => s.lostInKernel > 0 && scenario.kind !== 'tcp').map(([id, s]) => `- (${id}): ${fmt(s.lostInKernel)} packets lost to socket overruns over all runs`);
    if (losses.length) report.push('Overruns:', ...losses, '');
  }
  const tweaks = tweakTable(results['accept-64']?.summaries ?? {}, labels);
  if (tweaks) report.push('### Tweaks: one nf-queue option each, against (f) of the same run (64-byte accept)', '', tweaks, '');
  const targets = checkTargets(results, options);
  report.push('### Performance targets (64-byte accept unless stated; same run)', '', ...targets.map((t) => `    ${t.status} ${t.text}`), '');
  const notRun = Object.entries(unavailable).map(([k, why]) => `- (${k}) not run: ${why.split('\n')[0]}`);
  if (notRun.length) report.push(...notRun, '');
  const seconds = (Date.now() - started) / 1000;
  const perScenario = scenarios.filter((s) => !s.notRun).map((s) => `${s.name} ${(scenarioMs[s.name] / 1000).toFixed(0)} s`);
  report.push(`Total time ${seconds.toFixed(0)} s (${perScenario.join(', ')}; the rest builds and sets up).`);

  const text = report.join('\n');
  console.log(`\n${text}`);
  if (!options.out) {
    console.log('\nnot saved (--save writes bench/results/queue-bench.json, .svg and .md)');
    return;
  }
  const { out } = options;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'queue-bench.md'), text + '\n');
  writeFileSync(
    join(out, 'queue-bench.json'),
    JSON.stringify({ date: new Date().toISOString(), machine, options, unavailable, seconds, results, targets }, null, 2) + '\n',
  );
  writeFileSync(join(out, 'queue-bench.svg'), svgChart(results['accept-64']?.summaries ?? {}, labels, machineLine));
  console.log(`\nwrote ${join(out, 'queue-bench.json')}, queue-bench.svg, queue-bench.md`);
}

await main();

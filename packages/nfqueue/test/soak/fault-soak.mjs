/**
 * A randomized soak of the exactly-once promise on the real kernel, shared by the short kernel
 * test (test/kernel-soak.test.ts) and the long run by hand (scripts/fault-soak.mjs).
 *
 * Numbered UDP datagrams go through a real queue in a private network namespace to a UDP receiver
 * in the same namespace. The queue is opened and closed again and again ("cases", one queue
 * lifetime each); each packet's handler picks at random among accept, drop, accept with a mark,
 * a payload rewrite, holding it for a while before a verdict, throwing, rejecting, and never
 * answering (left to `verdictTimeout`); each case ends in a random way (close() mid-traffic, an
 * AbortSignal, leaving a `for await` loop over the packets or over `batches()`, or after the
 * traffic). Child-process cases run a handler that throws with no 'error' listener, and the
 * `nf-queue` command with its stdout closed after the first line.
 *
 * The checker then compares what was sent with what arrived: see {@link runFaultSoak}.
 * Everything random comes from seeded generators: the same seed replays the same plan of queue
 * lifetimes (sizes, lifecycles, options) and the same per-packet choices as long as packets come
 * in the same order (the kernel's timing, e.g. batch sizes, still differs from run to run).
 *
 * The rule that queues the datagrams has --queue-bypass: once a queue is unbound, datagrams pass
 * unseen, so a datagram sent while or after a queue closes has a defined fate too.
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a handler does with a packet. */
export const ACTIONS = ['accept', 'drop', 'mark', 'rewrite', 'hold', 'throw', 'reject', 'never'];
/** How a queue lifetime ends. */
export const LIFECYCLES = ['drain', 'close', 'close-in-handler', 'close-after-stall', 'abort', 'iterator-break', 'iterator-throw', 'batches-break', 'no-error-listener', 'cli-stdout-closed'];
const A = Object.fromEntries(ACTIONS.map((name, index) => [name, index]));
const UNSEEN = 255;
/** Verdicts the soak gives itself (also the outcome of a hold). */
const V = { none: 0, accept: 1, drop: 2, mark: 3, rewrite: 4 };
const VERDICT_NAMES = ['none', 'accept', 'drop', 'mark', 'rewrite'];
/** Verdict sources as Packet.verdictSource names them, plus the soak's own. */
const SOURCES = ['unseen', 'handler', 'batch', 'handler-error', 'timeout', 'close', 'no-verdict', 'child'];
const S = Object.fromEntries(SOURCES.map((name, index) => [name, index]));
const MARK = 0x5a1;
const PORT = 9999;
const FENCE_PORT = 40000;
const QUEUE = 7;
const DATAGRAM = 32;

/** A small fast seeded generator (mulberry32): uniform floats in [0, 1). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sh = (command, args) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// The receiver: binds PORT inside the namespace and writes 5 bytes per datagram to stdout:
// the sequence number (u32 BE) and a kind (0 original, 1 rewritten, 2 unknown bytes, 3 fence).
const RECEIVER = `
const dgram = require('node:dgram');
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 32 * 1024 * 1024 });
let out = [];
let scheduled = false;
const flush = () => { scheduled = false; const chunk = Buffer.concat(out); out = []; process.stdout.write(chunk); };
socket.on('message', (m) => {
  const record = Buffer.alloc(5);
  const magic = m.length >= 8 ? m.toString('latin1', 0, 4) : '';
  record.writeUInt32BE(m.length >= 8 ? m.readUInt32BE(4) : 0xffffffff, 0);
  record[4] = magic === 'SOAK' && m.length === ${DATAGRAM} ? 0 : magic === 'RWRT' ? 1 : magic === 'FNCE' ? 3 : 2;
  out.push(record);
  if (!scheduled) { scheduled = true; setImmediate(flush); }
});
socket.bind(${PORT}, '127.0.0.1', () => process.stderr.write('listening\\n'));
`;

// The sender: one line per command on stdin. "send FROM COUNT PPS" sends datagrams FROM..FROM+COUNT-1
// (magic SOAK, the number, zeros to 32 bytes), paced at PPS, then prints {"sent":FROM,"errors":[[seq,code]...]}.
// "fence N" sends a fence datagram from FENCE_PORT (which the NFQUEUE rule skips) and prints {"fence":N}.
const SENDER = `
const dgram = require('node:dgram');
const { createInterface } = require('node:readline');
const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
const fence = dgram.createSocket('udp4');
const send = (s, b, port) => new Promise((resolve) => s.send(b, port, '127.0.0.1', (e) => resolve(e ? e.code : null)));
let chain = Promise.resolve();
fence.bind(${FENCE_PORT}, '127.0.0.1', () => {
  socket.bind(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
    createInterface({ input: process.stdin }).on('line', (line) => {
      const [verb, a, b, c] = line.split(' ');
      chain = chain.then(async () => {
        if (verb === 'fence') {
          const m = Buffer.alloc(8); m.write('FNCE'); m.writeUInt32BE(Number(a), 4);
          await send(fence, m, ${PORT});
          process.stdout.write(JSON.stringify({ fence: Number(a) }) + '\\n');
          return;
        }
        const from = Number(a), count = Number(b), pps = Number(c);
        const errors = [];
        const started = performance.now();
        for (let i = 0; i < count; i += 32) {
          const burst = [];
          for (let seq = from + i; seq < from + Math.min(count, i + 32); seq++) {
            const m = Buffer.alloc(${DATAGRAM}); m.write('SOAK'); m.writeUInt32BE(seq, 4);
            burst.push(send(socket, m, ${PORT}).then((code) => { if (code) errors.push([seq, code]); }));
          }
          await Promise.all(burst);
          const ahead = started + ((i + 32) * 1000) / pps - performance.now();
          if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
        }
        process.stdout.write(JSON.stringify({ sent: from, errors }) + '\\n');
      });
    });
  });
});
`;

// A consumer with no 'error' listener whose handler throws for every third datagram: the process
// must survive it (each such packet gets the default verdict), close on "stop" and exit 0.
const NO_ERROR_LISTENER = (distUrl) => `
const { createInterface } = await import('node:readline');
const { openQueue } = await import(${JSON.stringify(distUrl)});
const queue = await openQueue({ queue: ${QUEUE}, netns: process.argv[1], copyMode: 'packet', receiveBufferSize: 16 * 1024 * 1024, maxLen: 65536 });
let seen = 0, thrown = 0;
queue.on('packet', (packet) => {
  seen++;
  const p = packet.payload;
  const seq = p.readUInt32BE(((p[0] & 15) * 4) + 8 + 4);
  if (seq % 3 === 0) { thrown++; throw new Error('handler fails on datagram ' + seq); }
  packet.accept();
});
console.log(JSON.stringify({ ready: true }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'stop') continue;
  const kernel = queue.kernelStats() ?? {};
  await queue.close();
  const stats = queue.stats();
  console.log(JSON.stringify({ seen, thrown, held: stats.held, overruns: stats.overruns, kernelDrops: (kernel.queueDropped ?? 0) + (kernel.userDropped ?? 0) }));
  process.exit(0);
}
`;

/** A child process with its output collected line by line. */
function child(command, args, { lines = true } = {}) {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const state = { proc, out: [], stderr: '', exit: undefined, partial: '' };
  state.exited = new Promise((resolve) =>
    proc.once('exit', (code, signal) => {
      state.exit = { code, signal };
      resolve(state.exit);
    }),
  );
  proc.stderr.on('data', (chunk) => (state.stderr += chunk));
  proc.stdin.on('error', () => {});
  if (lines) {
    proc.stdout.on('data', (chunk) => {
      const text = state.partial + chunk;
      const parts = text.split('\n');
      state.partial = parts.pop();
      for (const part of parts) if (part) state.out.push(JSON.parse(part));
    });
  }
  return state;
}

/**
 * Polls `condition` until it holds; fails after `timeoutMs` without it. With `progress`, the time
 * counts from the last change of `progress()`: a slow but moving wait (a queue paused by its
 * highWaterMark, freed only by verdictTimeout) is not mistaken for a stuck one.
 */
async function until(condition, timeoutMs, what, progress) {
  let deadline = performance.now() + timeoutMs;
  let last = progress?.();
  while (!condition()) {
    const now = performance.now();
    if (progress !== undefined) {
      const current = progress();
      if (current !== last) {
        last = current;
        deadline = now + timeoutMs;
      }
    }
    if (now > deadline) throw new Error(`${progress ? 'no progress for' : 'timed out after'} ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

const errorCode = (error) => error?.code ?? error?.constructor?.name ?? String(error);

/**
 * Runs the soak and returns its report (never throws for a violation: they are in the report).
 *
 * Checked, for every datagram sent: a packet the program saw arrives exactly once unless its
 * verdict dropped it (a handler's own verdict, or for a handler error, a timeout and a packet
 * still waiting at close the queue's defaultVerdict), with its rewritten payload when the verdict
 * rewrote it, and its verdict source agrees with what the handler did; a packet the program never
 * saw (not yet handed over at close, or sent after the queue was unbound: the rule has
 * --queue-bypass) arrives at most once, and exactly once when defaultVerdict is accept; nothing
 * arrives twice; datagrams arrive in the order their verdicts were given (per queue lifetime);
 * after each close the kernel lists no such queue; the mark counter equals the marked verdicts.
 *
 * @param {object} options
 * @param {{ openQueue: Function, queueStats: Function, mangle: Function }} options.lib the package under test
 * @param {string} options.distUrl URL of the built package (dist/index.js), for child processes
 * @param {string} options.cliPath path of packages/cli/bin/nf-queue.js
 * @param {number} options.packets datagrams to send in all
 * @param {number} options.seed seed of the generator
 * @param {number} [options.packetsPerCase] mean datagrams per queue lifetime
 * @param {number} [options.pps] send rate
 * @param {boolean} [options.childCases] run the child-process cases (default true)
 * @param {(line: string) => void} [options.log]
 */
export async function runFaultSoak(options) {
  const { lib, packets: total, seed } = options;
  const log = options.log ?? (() => {});
  // One generator for the plan of lifetimes, and one per lifetime (seeded from the seed and its
  // index) for what happens inside it: the plan replays even when the kernel's timing differs.
  const plan = seededRandom(seed);
  let rng = plan;
  const int = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(rng() * list.length)];
  const perCase = options.packetsPerCase ?? 1500;
  const pps = options.pps ?? 25_000;
  const childCases = options.childCases ?? true;

  // Per datagram (index = sequence number), preallocated so that the checker's own memory does
  // not count in the RSS growth.
  const cap = total + 1;
  const st = {
    caseOf: new Int32Array(cap).fill(-1),
    action: new Uint8Array(cap).fill(UNSEEN),
    applied: new Uint8Array(cap), // V: the verdict the handler's call gave (when it succeeded)
    source: new Uint8Array(cap), // S
    order: new Float64Array(cap).fill(-1), // when the verdict was given, by a counter
    seen: new Uint8Array(cap),
    arrivedOriginal: new Uint8Array(cap),
    arrivedRewritten: new Uint8Array(cap),
    sendError: new Uint8Array(cap),
    applyError: new Array(0), // [seq, code] of verdict calls that threw
  };
  const arrivalOrder = new Int32Array(cap * 2 + 16);
  let arrivals = 0;
  let unknownArrivals = 0;
  const fencesSeen = new Set();
  let orderCounter = 0;

  const report = {
    seed,
    packetsRequested: total,
    cases: [],
    casesByLifecycle: Object.fromEntries(LIFECYCLES.map((l) => [l, 0])),
    sent: 0,
    sendErrors: 0,
    seen: 0,
    arrived: 0,
    arrivedRewritten: 0,
    actionsSeen: Object.fromEntries(ACTIONS.map((a) => [a, 0])),
    sources: Object.fromEntries(SOURCES.map((s) => [s, 0])),
    errorsReported: {},
    markedVerdicts: 0,
    markCounter: 0,
    overruns: 0,
    receiverDrops: 0,
    /** Losses the library is not answerable for (socket overflows), by cause. */
    inconclusive: {},
    violations: [],
    violationCounts: {},
    rss: {},
    durationMs: 0,
  };
  // Per kind of violation: its count, the first few in full, and the datagram numbers (as ranges).
  const examplesPerKind = 6;
  report.violationSeqs = {};
  const violate = (kind, detail) => {
    const count = (report.violationCounts[kind] = (report.violationCounts[kind] ?? 0) + 1);
    if (count <= examplesPerKind) report.violations.push({ kind, ...detail });
    if (detail.seq !== undefined) (report.violationSeqs[kind] ??= []).push(detail.seq);
  };
  const describeSeq = (seq) => ({
    seq,
    case: st.caseOf[seq],
    lifecycle: report.cases[st.caseOf[seq]]?.lifecycle,
    action: st.action[seq] === UNSEEN ? 'unseen' : ACTIONS[st.action[seq]],
    verdict: VERDICT_NAMES[st.applied[seq]],
    source: SOURCES[st.source[seq]],
  });

  const started = performance.now();
  const ns = `nfqt-soak-${process.pid}-${randomBytes(4).toString('hex')}`;
  const children = [];
  /** Set up below, once the sender and the namespace are there. */
  let sendRange;
  let kernelRow;
  const inNs = (...args) => sh('ip', ['netns', 'exec', ns, ...args]);
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    inNs('iptables', '-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(PORT), '!', '--sport', String(FENCE_PORT),
      '-j', 'NFQUEUE', '--queue-num', String(QUEUE), '--queue-bypass');
    inNs('iptables', '-w', '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', String(MARK));
    const receiver = child('ip', ['netns', 'exec', ns, process.execPath, '-e', RECEIVER], { lines: false });
    children.push(receiver);
    let pendingBytes = Buffer.alloc(0);
    receiver.proc.stdout.on('data', (chunk) => {
      const bytes = pendingBytes.length ? Buffer.concat([pendingBytes, chunk]) : chunk;
      let offset = 0;
      for (; offset + 5 <= bytes.length; offset += 5) {
        const seq = bytes.readUInt32BE(offset);
        const kind = bytes[offset + 4];
        if (kind === 3) {
          fencesSeen.add(seq);
        } else if (kind === 2 || seq >= cap) {
          unknownArrivals++;
        } else {
          if (kind === 0) st.arrivedOriginal[seq] = Math.min(255, st.arrivedOriginal[seq] + 1);
          else st.arrivedRewritten[seq] = Math.min(255, st.arrivedRewritten[seq] + 1);
          if (arrivals < arrivalOrder.length) arrivalOrder[arrivals++] = seq;
        }
      }
      pendingBytes = bytes.subarray(offset);
    });
    const sender = child('ip', ['netns', 'exec', ns, process.execPath, '-e', SENDER]);
    children.push(sender);
    await until(() => receiver.stderr.includes('listening') || receiver.exit, 10_000, 'the receiver');
    await until(() => sender.out.length > 0 || sender.exit, 10_000, 'the sender');
    if (receiver.exit || sender.exit) throw new Error(`receiver or sender failed: ${receiver.stderr} ${sender.stderr}`);

    const sendReplies = new Map();
    let sendReplyIndex = 1;
    const nextReply = () => {
      while (sendReplyIndex < sender.out.length) {
        const reply = sender.out[sendReplyIndex++];
        if (reply.sent !== undefined) sendReplies.set(`sent ${reply.sent}`, reply);
        if (reply.fence !== undefined) sendReplies.set(`fence ${reply.fence}`, reply);
      }
    };
    const command = (line, key) => {
      sender.proc.stdin.write(`${line}\n`);
      return until(() => (nextReply(), sendReplies.has(key)) || sender.exit, 600_000, line).then(() => {
        if (sender.exit) throw new Error(`sender exited: ${sender.stderr}`);
        const reply = sendReplies.get(key);
        sendReplies.delete(key);
        return reply;
      });
    };
    sendRange = async (from, count, rate = pps) => {
      for (let seq = from; seq < from + count; seq++) st.caseOf[seq] = report.cases.length - 1;
      const reply = await command(`send ${from} ${count} ${rate}`, `sent ${from}`);
      for (const [seq, code] of reply.errors) {
        st.sendError[seq] = 1;
        report.sendErrors++;
        if (report.sendErrors <= 5) log(`send error for datagram ${seq}: ${code}`);
      }
      report.sent += count - reply.errors.length;
    };
    let fenceId = 0;
    const fence = async () => {
      const id = fenceId++;
      await command(`fence ${id}`, `fence ${id}`);
      await until(() => fencesSeen.has(id), 10_000, `fence ${id}`);
    };
    const readSnmp = () => {
      const lines = inNs('cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
      const names = lines[0].split(/\s+/);
      const values = lines[1].split(/\s+/);
      return Number(values[names.indexOf('RcvbufErrors')]);
    };
    kernelRow = () => lib.queueStats({ netns: ns }).find((row) => row.queue === QUEUE);

    const rss = () => process.memoryUsage().rss;
    let rssWarm;
    let packetsAtWarm = 0;
    const rssSamples = [];

    let nextSeq = 1;
    let caseIndex = 0;
    // Every lifecycle once first (in a random order), then at random; child-process cases every so often.
    const childEvery = 25;
    const deck = shuffled(childCases ? LIFECYCLES : LIFECYCLES.slice(0, 8));
    while (nextSeq <= total) {
      // Now and then a long lifetime: enough traffic for a backlog of thousands at close.
      const size = rng() < 0.12 ? perCase * 6 : perCase * (0.3 + rng() * 1.4);
      // Keep enough datagrams for the lifecycles of the first round still to come.
      const reserved = Math.max(0, deck.length - caseIndex - 1) * 100;
      const count = Math.min(total - nextSeq + 1, Math.max(50, Math.min(Math.round(size), total - nextSeq + 1 - reserved)));
      let lifecycle;
      if (caseIndex < deck.length) lifecycle = deck[caseIndex];
      else if (childCases && caseIndex > 4 && caseIndex % childEvery === 0) lifecycle = pick(['no-error-listener', 'cli-stdout-closed']);
      else lifecycle = pick(LIFECYCLES.slice(0, 8));
      const from = nextSeq;
      nextSeq += count;
      rng = seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(caseIndex + 1, 0x85ebca6b)) >>> 0);
      const info = { index: caseIndex, lifecycle, from, count };
      report.cases.push(info);
      report.casesByLifecycle[lifecycle]++;
      const snmpBefore = readSnmp();
      if (lifecycle === 'no-error-listener') await noErrorListenerCase(info);
      else if (lifecycle === 'cli-stdout-closed') await cliCase(info);
      else await queueCase(info);
      await fence();
      info.receiverDrops = readSnmp() - snmpBefore;
      report.receiverDrops += info.receiverDrops;
      caseIndex++;
      rng = plan;
      const sampled = rss();
      rssSamples.push(sampled);
      if (rssWarm === undefined && nextSeq - 1 >= total * 0.1) {
        rssWarm = sampled;
        packetsAtWarm = nextSeq - 1;
      }
      if (caseIndex % 20 === 0) log(`case ${caseIndex}: ${nextSeq - 1}/${total} datagrams, rss ${(sampled / 1048576).toFixed(1)} MB, violations ${JSON.stringify(report.violationCounts)}`);
    }
    // Give anything late a last chance to arrive, then check.
    await sleep(200);
    await fence();
    const rssEnd = rss();
    report.rss = {
      warmMB: rssWarm === undefined ? undefined : +(rssWarm / 1048576).toFixed(1),
      endMB: +(rssEnd / 1048576).toFixed(1),
      maxMB: +(Math.max(...rssSamples) / 1048576).toFixed(1),
      growthMB: rssWarm === undefined ? undefined : +((rssEnd - rssWarm) / 1048576).toFixed(1),
      packetsAfterWarm: total - packetsAtWarm,
      bytesPerPacketAfterWarm: rssWarm === undefined ? undefined : +((rssEnd - rssWarm) / Math.max(1, total - packetsAtWarm)).toFixed(2),
    };
    report.markCounter = Number(
      inNs('iptables', '-w', '-t', 'mangle', '-L', 'POSTROUTING', '-v', '-x', '-n')
        .split('\n')
        .find((l) => l.includes('mark match'))
        ?.trim()
        .split(/\s+/)[0] ?? NaN,
    );
    check();
  } finally {
    for (const c of children) if (!c.exit) c.proc.kill('SIGKILL');
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
    try {
      sh('ip', ['netns', 'delete', ns]);
    } catch {
      // gone already
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;

  // ---- one queue lifetime in this process ---------------------------------------------------

  async function queueCase(info) {
    const defaultVerdict = rng() < 0.5 ? 'accept' : 'drop';
    const verdictTimeout = int(40, 200);
    const drainTimeout = pick([0, 30, 150, 400]);
    const maxHold = int(5, 300); // may pass verdictTimeout: then the timeout wins
    const endAfter = int(Math.ceil(info.count * 0.2), info.count); // packets seen before the lifecycle event
    // In batches(), some programs verdict a batch in another order than it came (e.g. by priority).
    const shuffleBatches = rng() < 0.6;
    // Some cases send in bursts, pause reading early (a low highWaterMark) or have a handler that
    // sometimes blocks for a few milliseconds: the socket then holds a backlog, at close too.
    const rate = info.lifecycle === 'close-after-stall' ? pick([pps, pps * 4]) : pick([pps, pps, pps * 4, 1_000_000]);
    const highWaterMark = pick([undefined, undefined, 8, 64, 512]);
    const stallChance = pick([0, 0, 0.002, 0.02]);
    const stallMs = int(50, 300);
    const readerThread = rng() < 0.25;
    const batchSize = pick([undefined, undefined, 1, 4, 16]);
    const controller = info.lifecycle === 'abort' ? new AbortController() : undefined;
    Object.assign(info, { defaultVerdict, verdictTimeout, drainTimeout, maxHold, endAfter, rate, highWaterMark });
    Object.assign(info, { stallChance, stallMs, shuffleBatches, readerThread, batchSize });
    // Per-case weights, so that some cases are all of one kind and some a mix.
    const weights = ACTIONS.map(() => (rng() < 0.15 ? 0 : rng()));
    weights[int(0, ACTIONS.length - 1)] += 0.5;
    const weightSum = weights.reduce((a, b) => a + b, 0);
    // Some cases give every packet the same plain verdict, at once or after a hold: the verdicts
    // then travel as VERDICT_BATCH messages, whose order must still be the order they were given.
    const uniform = rng() < 0.3 ? pick([V.accept, V.mark]) : V.none;
    info.uniform = VERDICT_NAMES[uniform];
    const chooseAction = () => {
      if (uniform !== V.none) return rng() < 0.4 ? A.hold : uniform === V.accept ? A.accept : A.mark;
      let r = rng() * weightSum;
      for (let i = 0; i < weights.length; i++) if ((r -= weights[i]) < 0) return i;
      return 0;
    };
    const queue = await lib.openQueue({
      queue: QUEUE,
      netns: ns,
      copyMode: 'packet',
      defaultVerdict,
      verdictTimeout,
      drainTimeout,
      maxLen: 65536,
      receiveBufferSize: 16 * 1024 * 1024,
      ...(controller ? { signal: controller.signal } : {}),
      ...(highWaterMark ? { highWaterMark } : {}),
      ...(batchSize ? { batchSize } : {}),
      readerThread,
    });
    const caseSeen = [];
    const casePackets = [];
    let holdsPending = 0;
    let lastHoldDue = 0;
    const errors = {};
    queue.on('error', (error) => {
      const code = errorCode(error);
      errors[code] = (errors[code] ?? 0) + 1;
      report.errorsReported[code] = (report.errorsReported[code] ?? 0) + 1;
      if (code !== 'ERR_PACKET_HANDLER') violate('unexpected error event', { case: info.index, code, message: String(error.message).slice(0, 200) });
    });
    queue.on('timeout', (packet) => {
      const seq = seqOf(packet);
      if (seq > 0 && st.order[seq] < 0) st.order[seq] = orderCounter++;
    });

    const give = (packet, seq, verdict, longer = false) => {
      try {
        if (verdict === V.accept) packet.accept();
        else if (verdict === V.drop) packet.drop();
        else if (verdict === V.mark) packet.accept({ mark: MARK });
        else packet.accept({ payload: rewrite(packet.payload, longer) });
        st.applied[seq] = verdict;
        st.order[seq] = orderCounter++;
      } catch (error) {
        st.applyError.push([seq, errorCode(error)]);
      }
    };
    const randomVerdict = () => pick([V.accept, V.drop, V.mark, V.rewrite]);

    let ended = false;
    const endNow = () => {
      if (ended) return;
      ended = true;
      if (controller) controller.abort();
      else void queue.close();
    };

    /** Handles one packet as the case's lifecycle allows; returns 'break' to leave an iterator loop. */
    const handle = (packet, inIterator) => {
      const seq = seqOf(packet);
      if (seq <= 0 || seq >= cap) {
        packet.accept();
        unknownArrivals++;
        return undefined;
      }
      st.seen[seq]++;
      if (st.seen[seq] > 1) violate('delivered to the program twice', describeSeq(seq));
      caseSeen.push(seq);
      casePackets.push(packet);
      let action = chooseAction();
      // An iterator has no promise to reject, and a throw leaves the loop (only in iterator-throw).
      if (inIterator && (action === A.reject || (action === A.throw && info.lifecycle !== 'iterator-throw'))) action = A.never;
      st.action[seq] = action;
      report.actionsSeen[ACTIONS[action]]++;
      if (stallChance > 0 && rng() < stallChance) {
        const until = performance.now() + int(2, 20);
        while (performance.now() < until); // a handler that blocks the event loop a while
      }
      let result;
      switch (action) {
        case A.accept:
          give(packet, seq, V.accept);
          break;
        case A.drop:
          give(packet, seq, V.drop);
          break;
        case A.mark:
          give(packet, seq, V.mark);
          break;
        case A.rewrite:
          give(packet, seq, V.rewrite, rng() < 0.5);
          break;
        case A.hold: {
          const verdict = uniform !== V.none ? uniform : randomVerdict();
          // Coarse delays: several held verdicts often fall due in the same turn of the event loop.
          const delay = Math.round(int(0, maxHold) / 10) * 10;
          const longer = rng() < 0.5; // drawn now: the generator's sequence must not depend on timers
          holdsPending++;
          lastHoldDue = Math.max(lastHoldDue, performance.now() + delay);
          setTimeout(() => {
            holdsPending--;
            give(packet, seq, verdict, longer);
          }, delay);
          break;
        }
        case A.throw:
          if (inIterator) result = 'throw';
          else {
            st.order[seq] = orderCounter++; // the default verdict follows at once
            result = 'throw';
          }
          break;
        case A.reject:
          result = rng() < 0.5 ? Promise.reject(new Error(`handler rejects datagram ${seq}`)) : sleep(int(0, 30)).then(() => {
            throw new Error(`handler rejects datagram ${seq} later`);
          });
          break;
        default: // never: verdictTimeout or close gives the default verdict
      }
      return result;
    };

    const lifecycle = info.lifecycle;
    let loop = Promise.resolve();
    if (lifecycle === 'iterator-break' || lifecycle === 'iterator-throw') {
      loop = (async () => {
        try {
          for await (const packet of queue) {
            const result = handle(packet, true);
            if (result === 'throw' && lifecycle === 'iterator-throw') throw new Error('loop body fails');
            if (caseSeen.length >= endAfter) {
              ended = true;
              break;
            }
          }
        } catch (error) {
          if (error.message !== 'loop body fails') throw error;
          ended = true;
        }
      })();
    } else if (lifecycle === 'batches-break') {
      loop = (async () => {
        outer: for await (const batch of queue.batches()) {
          const ordered = shuffleBatches ? shuffled(batch) : batch;
          for (const packet of ordered) {
            handle(packet, true);
            if (caseSeen.length >= endAfter) {
              ended = true;
              break outer;
            }
          }
        }
      })();
    } else {
      queue.on('packet', (packet) => {
        const result = handle(packet, false);
        if (lifecycle === 'close-in-handler' && caseSeen.length >= endAfter) endNow();
        if (lifecycle === 'close-after-stall' && caseSeen.length === endAfter) {
          // The handler blocks while traffic goes on (the socket fills), then closes the queue.
          const until = performance.now() + info.stallMs;
          while (performance.now() < until);
          endNow();
        }
        if (result === 'throw') throw new Error(`handler fails on datagram ${caseSeen[caseSeen.length - 1]}`);
        return result;
      });
    }
    const traffic = sendRange(info.from, info.count, rate);
    if (lifecycle === 'close' || lifecycle === 'abort') {
      // From a timer, not from the handler: some packets are waiting in the socket meanwhile.
      let trafficDone = false;
      const watcher = (async () => {
        while (!ended && caseSeen.length < endAfter && !trafficDone) await sleep(1);
        if (trafficDone) await sleep(50);
        endNow();
      })();
      await traffic;
      trafficDone = true;
      await watcher;
    } else if (lifecycle === 'drain') {
      await traffic;
      const expected = () => info.count - (countSendErrors(info));
      // Slow cases (a low highWaterMark with packets left to verdictTimeout) take long; the wait
      // fails only when nothing moves for 5 s.
      await until(() => caseSeen.length >= expected() && holdsPending === 0 && queue.outstandingCount === 0, 5_000, 'every packet seen and verdicted', () => `${caseSeen.length} ${queue.outstandingCount}`).catch(
        (error) => queue.stats().overruns === 0 && violate('drain case did not see every packet', { case: info.index, seen: caseSeen.length, sent: expected(), held: queue.outstandingCount, message: error.message }),
      );
      endNow();
    } else {
      await traffic;
      if (!ended) {
        // Fewer packets arrived than the lifecycle waited for: end it from outside.
        await sleep(50);
        if (!ended) endNow();
      }
    }
    await loop;
    await queue.close();
    const row = kernelRow();
    if (row) violate('queue still bound after close', { case: info.index, row });
    // Late holds call their verdict after close (it must throw, not pass): wait for them.
    const wait = lastHoldDue - performance.now();
    if (wait > 0) await sleep(wait + 5);
    await until(() => holdsPending === 0, 5_000, 'the held packets');
    const stats = queue.stats();
    info.overruns = stats.overruns;
    report.overruns += stats.overruns;
    info.seen = caseSeen.length;
    info.errors = errors;
    info.defaultVerdicts = stats.defaultVerdicts;
    info.batches = stats.batches;
    info.pauses = stats.pauses;
    info.coalescedFlushes = stats.coalescedFlushes;
    report.pauses = (report.pauses ?? 0) + stats.pauses;
    report.coalescedFlushes = (report.coalescedFlushes ?? 0) + stats.coalescedFlushes;
    report.received = (report.received ?? 0) + stats.received;
    report.batches = (report.batches ?? 0) + stats.batches;
    report.seen += caseSeen.length;
    for (let i = 0; i < casePackets.length; i++) {
      const source = casePackets[i].verdictSource;
      st.source[caseSeen[i]] = source === undefined ? S['no-verdict'] : S[source] ?? S['no-verdict'];
    }
  }

  function shuffled(list) {
    const copy = list.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  function countSendErrors(info) {
    let n = 0;
    for (let seq = info.from; seq < info.from + info.count; seq++) n += st.sendError[seq];
    return n;
  }

  // ---- child-process cases ------------------------------------------------------------------

  async function noErrorListenerCase(info) {
    info.defaultVerdict = 'accept';
    const c = child('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', NO_ERROR_LISTENER(options.distUrl), ns]);
    children.push(c);
    await until(() => c.out.length > 0 || c.exit, 10_000, 'the consumer without error listener');
    if (c.exit) {
      violate('consumer failed to start', { case: info.index, exit: c.exit, stderr: c.stderr.slice(0, 400) });
      return;
    }
    await sendRange(info.from, info.count);
    await sleep(100);
    const alive = !c.exit;
    if (!alive) {
      info.childFailed = true;
      violate('handler error without an error listener ended the process', {
        case: info.index,
        exit: c.exit,
        stderr: c.stderr.split('\n').slice(0, 3).join(' | ').slice(0, 400),
      });
    } else {
      c.proc.stdin.write('stop\n');
      await Promise.race([c.exited, sleep(10_000)]);
      const result = c.out[1];
      info.child = { exit: c.exit, result, stderr: c.stderr.slice(0, 300) };
      // What the kernel dropped because the consumer's socket or queue was full is not judged.
      info.overruns = (result?.overruns ?? 0) + (result?.kernelDrops ?? 0);
      if (!c.exit || c.exit.code !== 0 || !result) violate('consumer without error listener did not close cleanly', { case: info.index, ...info.child });
    }
    if (!c.exit) c.proc.kill('SIGKILL');
    await c.exited;
    const row = kernelRow();
    if (row) violate('queue still bound after the process ended', { case: info.index, row });
    markChildSeen(info, alive);
  }

  async function cliCase(info) {
    info.defaultVerdict = 'accept';
    const c = child(process.execPath, [options.cliPath, '--netns', ns, '--rcvbuf', '16M', '--maxlen', '65536', String(QUEUE)], { lines: false });
    children.push(c);
    let firstLine = '';
    let stdoutClosed = false;
    c.proc.stdout.on('data', (chunk) => {
      if (stdoutClosed) return;
      firstLine += chunk;
      if (firstLine.includes('\n')) {
        // As `nf-queue | head -1` does: the reader goes away after the first line.
        stdoutClosed = true;
        c.proc.stdout.destroy();
      }
    });
    await until(() => kernelRow() !== undefined || c.exit, 10_000, 'nf-queue to bind').catch(() => {});
    if (c.exit || !kernelRow()) {
      violate('nf-queue failed to start', { case: info.index, exit: c.exit, stderr: c.stderr.slice(0, 400) });
      if (!c.exit) c.proc.kill('SIGKILL');
      return;
    }
    await sendRange(info.from, info.count);
    await Promise.race([c.exited, sleep(3_000)]);
    const exitedByItself = c.exit !== undefined;
    if (!exitedByItself) {
      violate('nf-queue kept running after its stdout closed', { case: info.index, stdoutClosed });
      c.proc.kill('SIGTERM');
      await Promise.race([c.exited, sleep(5_000)]);
      if (!c.exit) c.proc.kill('SIGKILL');
    }
    await c.exited;
    info.child = { exit: c.exit, stderr: c.stderr.slice(0, 600), stdoutClosed };
    // Its summary line counts what the kernel dropped (socket or queue full): not judged.
    const kernelDrops = /(\d+) dropped by the kernel/.exec(c.stderr);
    const overrunEvents = /(\d+) overrun events?/.exec(c.stderr);
    info.overruns = Number(kernelDrops?.[1] ?? 0) + Number(overrunEvents?.[1] ?? 0);
    const stack = /\n\s+at |Unhandled|Error \[|node:internal/.test(c.stderr);
    if (stack || (exitedByItself && c.exit.code !== 0)) {
      info.childFailed = true;
      violate('nf-queue failed on a closed stdout', {
        case: info.index,
        exit: c.exit,
        stderr: c.stderr.split('\n').filter(Boolean).slice(0, 4).join(' | ').slice(0, 500),
      });
    }
    await until(() => kernelRow() === undefined, 3_000, 'nf-queue to unbind').catch(() =>
      violate('queue still bound after nf-queue ended', { case: info.index, row: kernelRow() }),
    );
    markChildSeen(info, true);
  }

  /** A child consumer accepts everything (its throws get the default, accept): each datagram must arrive once. */
  function markChildSeen(info, expectAll) {
    info.expectAll = expectAll;
    for (let seq = info.from; seq < info.from + info.count; seq++) {
      st.source[seq] = S.child;
    }
  }

  // ---- the checker --------------------------------------------------------------------------

  function seqOf(packet) {
    const p = packet.payload;
    if (p.length < 28) return -1;
    const start = (p[0] & 15) * 4 + 8;
    if (p.length < start + 8) return -1;
    return p.readUInt32BE(start + 4);
  }

  /** The datagram with magic RWRT instead of SOAK, sometimes longer (lengths and checksums repaired by mangle). */
  function rewrite(payload, longer) {
    const start = (payload[0] & 15) * 4 + 8;
    const seqBytes = payload.subarray(start + 4, start + 8);
    const replacement = Buffer.concat([Buffer.from('RWRT'), seqBytes, Buffer.from(longer ? 'longer' : '')]);
    return lib.mangle(payload, { offset: 0, length: 8, replacement });
  }

  function check() {
    const mustArrive = (seq) => {
      const info = report.cases[st.caseOf[seq]];
      const source = st.source[seq];
      if (source === S.child) return info.expectAll ? 1 : -1;
      if (source === S.handler) return st.applied[seq] === V.drop ? 0 : 1;
      if (source === S['handler-error'] || source === S.timeout || source === S.close) return info.defaultVerdict === 'accept' ? 1 : 0;
      if (source === S.unseen) return info.defaultVerdict === 'accept' ? 1 : -1; // -1: 0 or 1 (default drop, or bypass once unbound)
      return -2; // no verdict, or a source the soak never causes
    };
    for (let seq = 1; seq < cap; seq++) {
      if (st.caseOf[seq] < 0 || st.sendError[seq]) continue;
      const info = report.cases[st.caseOf[seq]];
      const source = st.source[seq];
      report.sources[SOURCES[source]]++;
      if (st.applied[seq] === V.mark && source === S.handler) report.markedVerdicts++;
      const original = st.arrivedOriginal[seq];
      const rewritten = st.arrivedRewritten[seq];
      const times = original + rewritten;
      if (times > 0) report.arrived++;
      if (rewritten > 0) report.arrivedRewritten++;
      const detail = () => describeSeq(seq);
      if (times > 1) violate('arrived more than once', { ...detail(), times });
      const action = st.action[seq];
      // The verdict source must agree with what the handler did.
      if (source !== S.child && source !== S.unseen) {
        const leftLoop = action === A.throw && info.lifecycle === 'iterator-throw';
        if (source === S['no-verdict'] || source === S.batch) violate('no verdict after close', detail());
        else if (action <= A.rewrite && source !== S.handler) violate('handler verdict not recorded as the handler', detail());
        else if (action === A.throw && !leftLoop) {
          if (source !== S['handler-error']) violate('failed handler did not get the handler-error default', detail());
        } else if (action === A.reject) {
          // A rejection may come after verdictTimeout or close gave the default.
          if (source !== S['handler-error'] && source !== S.timeout && source !== S.close) violate('rejecting handler did not get a default verdict', detail());
        } else if ((action === A.never || leftLoop) && source !== S.timeout && source !== S.close) violate('unanswered packet did not get the timeout or close default', detail());
        else if (action === A.hold && source === S.handler && st.applied[seq] === V.none) violate('hold verdict source without a verdict call', detail());
        else if (action === A.hold && source !== S.handler && source !== S.timeout && source !== S.close) violate('held packet got an unexpected verdict source', detail());
      }
      const expected = mustArrive(seq);
      if (expected === -2) continue; // reported above
      if (expected === 1 && times === 0) {
        if (info.receiverDrops > 0 || info.overruns > 0) {
          // Not the library's doing: the receiver's socket overflowed, or the queue's (ENOBUFS:
          // the kernel drops what does not fit, and counts it). Reported, not a violation.
          const why = info.receiverDrops > 0 ? 'receiver socket overflowed' : 'queue socket overran';
          report.inconclusive[why] = (report.inconclusive[why] ?? 0) + 1;
        } else {
          const reason = info.childFailed
            ? `lost when the ${info.lifecycle} child failed`
            : source === S.unseen ? 'unseen packet lost (not given the default verdict)' : 'accepted packet lost';
          violate(reason, detail());
        }
      }
      if (expected === 0 && times > 0) violate('dropped packet arrived', { ...detail(), times });
      const wantRewritten = source === S.handler && st.applied[seq] === V.rewrite;
      if (times > 0 && wantRewritten && original > 0) violate('rewrite lost: original payload arrived', detail());
      if (times > 0 && !wantRewritten && rewritten > 0) violate('rewritten payload arrived for a packet not rewritten', detail());
    }
    for (const [seq, code] of st.applyError) {
      // A late verdict call may meet a default already given (VerdictAlreadyGivenError) or a
      // closed queue (QueueClosedError); anything else is a defect.
      if (!/ALREADY|CLOSED|VerdictAlreadyGiven|QueueClosed/i.test(code)) violate('verdict call threw', { ...describeSeq(seq), code });
      else if (st.source[seq] === S.handler) violate('verdict call threw but the handler verdict is recorded', { ...describeSeq(seq), code });
    }
    // Order: within a queue lifetime, datagrams whose verdicts the soak knows the moment of
    // arrive in that order.
    const lastOrder = new Map();
    for (let i = 0; i < arrivals; i++) {
      const seq = arrivalOrder[i];
      const order = st.order[seq];
      if (order < 0 || st.source[seq] === S.unseen || st.source[seq] === S.child) continue;
      if (st.source[seq] === S.close || st.source[seq] === S['no-verdict']) continue;
      const caseIndex = st.caseOf[seq];
      const previous = lastOrder.get(caseIndex);
      if (previous !== undefined && order < previous.order) {
        violate('arrived out of verdict order', { ...describeSeq(seq), after: previous.seq, afterAction: ACTIONS[st.action[previous.seq]] });
      } else {
        lastOrder.set(caseIndex, { order, seq });
      }
    }
    if (report.markCounter !== report.markedVerdicts) {
      violate('mark counter differs from the marked verdicts', { counter: report.markCounter, marked: report.markedVerdicts });
    }
    if (unknownArrivals > 0) violate('datagrams the soak did not send arrived', { count: unknownArrivals });
  }
}

/**
 * Problems with the run itself, as opposed to the library: a soak that sent nothing, saw
 * nothing, or never exercised an action or a way of ending a queue proves nothing.
 */
export function vacuityProblems(report, { requireAll = true } = {}) {
  const problems = [];
  if (report.sent === 0) problems.push('nothing was sent');
  if (report.seen === 0) problems.push('the program saw no packet');
  if (report.arrived === 0) problems.push('nothing arrived');
  if (report.arrived > report.sent) problems.push('more datagrams arrived than were sent');
  if (report.arrivedRewritten === 0) problems.push('no rewritten datagram arrived');
  if (report.markedVerdicts === 0) problems.push('no marked verdict');
  const inconclusive = Object.values(report.inconclusive).reduce((a, b) => a + b, 0);
  if (inconclusive > report.sent * 0.01) problems.push(`${inconclusive} datagrams lost to socket overflows: too many to judge the rest`);
  if (requireAll) {
    for (const [action, count] of Object.entries(report.actionsSeen)) if (count === 0) problems.push(`action ${action} never chosen`);
    for (const [lifecycle, count] of Object.entries(report.casesByLifecycle)) if (count === 0) problems.push(`lifecycle ${lifecycle} never run`);
    for (const source of ['handler', 'handler-error', 'timeout', 'close']) if (report.sources[source] === 0) problems.push(`no verdict from source ${source}`);
  }
  return problems;
}

/** The report as text: totals, then each violation with its datagram's number, action and verdict source. */
export function formatReport(report) {
  const lines = [];
  lines.push(`fault soak: seed ${report.seed} (replay: NFQ_SOAK_SEED=${report.seed} for the kernel test, --seed ${report.seed} for scripts/fault-soak.mjs), ${report.cases.length} queue lifetimes in ${(report.durationMs / 1000).toFixed(1)} s`);
  lines.push(`  lifetimes: ${Object.entries(report.casesByLifecycle).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  datagrams: sent ${report.sent} (send errors ${report.sendErrors}), seen by the program ${report.seen}, arrived ${report.arrived} (rewritten ${report.arrivedRewritten})`);
  lines.push(`  actions: ${Object.entries(report.actionsSeen).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  verdict sources: ${Object.entries(report.sources).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  queue: received ${report.received} in ${report.batches} batches, ${report.pauses} pauses (highWaterMark), ${report.coalescedFlushes} coalesced flushes`);
  lines.push(`  marked verdicts ${report.markedVerdicts}, mark rule counter ${report.markCounter}; overruns ${report.overruns}; receiver drops ${report.receiverDrops}; losses not judged ${JSON.stringify(report.inconclusive)}`);
  lines.push(`  errors reported: ${JSON.stringify(report.errorsReported)}`);
  lines.push(`  rss: ${JSON.stringify(report.rss)}`);
  const kinds = Object.entries(report.violationCounts);
  lines.push(kinds.length === 0 ? '  violations: none' : `  violations: ${kinds.map(([k, v]) => `${k} ${v}`).join('; ')}`);
  for (const v of report.violations) lines.push(`    - ${JSON.stringify(v)}`);
  for (const [kind, seqs] of Object.entries(report.violationSeqs ?? {})) lines.push(`    datagrams with "${kind}": ${ranges(seqs)}`);
  return lines.join('\n');
}

/** "1-4, 9, 12-13" from [1, 2, 3, 4, 9, 12, 13] (at most 40 ranges). */
function ranges(seqs) {
  const sorted = [...seqs].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < sorted.length && out.length < 40; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] <= sorted[j] + 1) j++;
    out.push(sorted[i] === sorted[j] ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(', ') + (out.length === 40 ? ', ...' : '');
}

/**
 * Helpers for kernel tests: a private network namespace per test, iptables inside it, and UDP
 * senders and receivers running inside it as child processes.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a command; rejects with its stderr in the message when it fails. */
export async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { encoding: 'utf8' });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${failed.stderr?.trim() || failed.message}`, { cause: error });
  }
}

/** A namespace made for one test, and a place to register clean-ups that run before it is deleted. */
export interface TestNamespace {
  /** Namespace name, as `ip netns` knows it. */
  readonly name: string;
  /** Registers a clean-up; clean-ups run in reverse order, before the namespace is deleted. */
  defer(cleanup: () => unknown): void;
}

/**
 * Creates namespace `nfqt-<pid>-<random>` with its loopback up, runs `fn` in it and always deletes
 * the namespace afterwards (after the clean-ups `fn` registered), whether `fn` passed or failed.
 */
export async function withNamespace<T>(fn: (namespace: TestNamespace) => Promise<T>): Promise<T> {
  const name = `nfqt-${process.pid}-${randomBytes(4).toString('hex')}`;
  const cleanups: Array<() => unknown> = [];
  await run('ip', ['netns', 'add', name]);
  liveNamespaces.add(name);
  try {
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return await fn({ name, defer: (cleanup) => cleanups.push(cleanup) });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep cleaning up; the namespace must go whatever happened.
      }
    }
    await deleteNamespace(name);
  }
}

/** Namespaces made and not yet deleted: a test that times out never reaches its `finally`. */
const liveNamespaces = new Set<string>();

/** Ends the processes left in `name` (receivers, senders) and deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  liveNamespaces.delete(name);
  const pids = (await run('ip', ['netns', 'pids', name]).catch(() => '')).split('\n').filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'delete', name]);
}

// When the test process ends, whatever a timed-out test left behind goes too.
process.once('exit', () => {
  for (const name of liveNamespaces) {
    spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
      .stdout?.split('\n')
      .filter(Boolean)
      .forEach((pid) => {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      });
    spawnSync('ip', ['netns', 'delete', name]);
  }
});

/** Runs `iptables ARGS` inside namespace `ns`; resolves with its output. */
export function iptables(ns: string, ...args: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, 'iptables', '-w', ...args]);
}

/**
 * The packet counter of the first rule of `table`/`chain` whose listing contains `ruleText`
 * (from `iptables -t TABLE -L CHAIN -v -x -n`, e.g. ruleText 'mark match 0x2a').
 */
export async function ruleCounter(ns: string, table: string, chain: string, ruleText: string): Promise<number> {
  const listing = await iptables(ns, '-t', table, '-L', chain, '-v', '-x', '-n');
  const line = listing.split('\n').find((candidate) => candidate.includes(ruleText));
  if (line === undefined) throw new Error(`no rule with "${ruleText}" in ${table}/${chain}:\n${listing}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** A UDP socket bound inside a namespace, collecting what it receives. */
export interface UdpReceiver {
  /** Datagrams received so far, in order. */
  readonly received: Buffer[];
  /** Resolves with the datagrams once `count` have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<Buffer[]>;
  /** Stops the receiver process. */
  close(): Promise<void>;
}

function nodeInNamespace(ns: string, script: string, args: string[] = []): ChildProcessWithoutNullStreams {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: 'pipe' });
}

const RECEIVER_SCRIPT = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
socket.on('message', (message) => process.stdout.write(JSON.stringify(message.toString('hex')) + '\\n'));
socket.bind(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('"listening"\\n'));
`;

/** Starts a UDP receiver on 127.0.0.1:`port` inside `ns`; resolves once it listens. */
export function udpReceiver(ns: string, port: number): Promise<UdpReceiver> {
  const child = nodeInNamespace(ns, RECEIVER_SCRIPT, [String(port)]);
  const received: Buffer[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolveListening, rejectListening) => {
    child.once('exit', (code) => rejectListening(new Error(`UDP receiver exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const value = JSON.parse(line) as string;
      if (value === 'listening') {
        resolveListening({
          received,
          waitFor(count, timeoutMs = 5_000) {
            return new Promise((resolve, reject) => {
              const timer = setTimeout(
                () => reject(new Error(`received ${received.length} of ${count} datagrams in ${timeoutMs} ms`)),
                timeoutMs,
              );
              const check = (): void => {
                if (received.length >= count) {
                  clearTimeout(timer);
                  resolve(received.slice(0, count));
                } else {
                  waiters.push(check);
                }
              };
              check();
            });
          },
          async close() {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
        return;
      }
      received.push(Buffer.from(value, 'hex'));
      for (const waiter of waiters.splice(0)) waiter();
    });
  });
}

const SENDER_SCRIPT = `
const dgram = require('node:dgram');
const port = Number(process.argv[1]);
const payloads = JSON.parse(process.argv[2]);
const socket = dgram.createSocket('udp4');
const errors = [];
let index = 0;
const next = () => {
  if (index === payloads.length) {
    process.stdout.write(JSON.stringify(errors));
    socket.close();
    return;
  }
  socket.send(Buffer.from(payloads[index++], 'hex'), port, '127.0.0.1', (error) => {
    errors.push(error ? error.code : null);
    next();
  });
};
if (process.argv[3]) socket.bind({ address: process.argv[3] }, next);
else next();
`;

/**
 * Sends each payload as one UDP datagram to 127.0.0.1:`port` from inside `ns`, in order, from
 * `options.source` (an address of the namespace's loopback, e.g. 127.0.0.2) when given; resolves
 * with the send error code of each (null when the send succeeded).
 */
export function udpSend(
  ns: string,
  port: number,
  payloads: readonly Uint8Array[],
  options: { source?: string } = {},
): Promise<Array<string | null>> {
  const child = nodeInNamespace(ns, SENDER_SCRIPT, [
    String(port),
    JSON.stringify(payloads.map((payload) => Buffer.from(payload).toString('hex'))),
    ...(options.source ? [options.source] : []),
  ]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as Array<string | null>);
      else reject(new Error(`UDP sender exited (${code}): ${stderr}`));
    });
  });
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A child process and what it printed so far. */
export interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Its exit code. */
  readonly exited: Promise<number | null>;
}

/** Starts `command args` with its stdin, stdout and stderr piped, collecting what it prints. */
export function startProcess(command: string, args: readonly string[]): Started {
  const child = spawn(command, args, { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Polls `condition` every 20 ms until it holds; throws after `ms` (default 5 s). */
export async function until(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  for (const started = Date.now(); !(await condition()); ) {
    if (Date.now() - started > ms) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** Queues the UDP datagrams to `port` that leave in `ns` (its OUTPUT chain) to queue `queue`. */
export function queueUdpTo(ns: TestNamespace, queue: number, port: number): Promise<string> {
  return iptables(ns.name, '-A', 'OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'NFQUEUE', '--queue-num', String(queue));
}

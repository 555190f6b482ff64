/**
 * A private network namespace per test, and what tests do inside it: run commands, install
 * iptables rules, read the kernel's queue table and counters.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type RunOptions, run, until } from './process.js';

/** A namespace made for one test, and a place to register clean-ups that run before it is deleted. */
export interface TestNamespace {
  /** Namespace name, as `ip netns` knows it. */
  readonly name: string;
  /** Registers a clean-up; clean-ups run in reverse order, before the namespace is deleted. */
  defer(cleanup: () => unknown): void;
}

/** Prefix of every test namespace: `nfqt-<pid>-<hex>` (scripts/clean-test-namespaces.mjs relies on it). */
export const NAMESPACE_PREFIX = 'nfqt-';

/** Namespaces made and not yet deleted: a test that times out never reaches its `finally`. */
const liveNamespaces = new Set<string>();

/** A name no other namespace has: `nfqt-<pid>-<random hex>`. */
export function uniqueNamespaceName(): string {
  return `${NAMESPACE_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Creates a namespace with a unique name and its loopback up; resolves with its name. Remove it with {@link removeNamespace}. */
export async function createNamespace(): Promise<string> {
  const name = uniqueNamespaceName();
  await run('ip', ['netns', 'add', name]);
  liveNamespaces.add(name);
  try {
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    removeNamespaceSync(name);
    throw error;
  }
  return name;
}

/** Kills (SIGKILL) the processes left in `name` and deletes it. */
export async function removeNamespace(name: string): Promise<void> {
  liveNamespaces.delete(name);
  killNamespaceProcesses(name);
  await run('ip', ['netns', 'delete', name]);
}

/** {@link removeNamespace}, synchronously (for exit hooks and scripts); ignores a namespace already gone. */
export function removeNamespaceSync(name: string): void {
  liveNamespaces.delete(name);
  killNamespaceProcesses(name);
  spawnSync('ip', ['netns', 'delete', name]);
}

function killNamespaceProcesses(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// When the test process ends, whatever a timed-out test left behind goes too.
process.once('exit', () => {
  for (const name of liveNamespaces) removeNamespaceSync(name);
});

/**
 * Creates a namespace (see {@link createNamespace}), runs `fn` in it and always deletes the
 * namespace afterwards (after the clean-ups `fn` registered), whether `fn` passed or failed.
 */
export async function withNamespace<T>(fn: (namespace: TestNamespace) => Promise<T>): Promise<T> {
  const name = await createNamespace();
  const cleanups: Array<() => unknown> = [];
  try {
    return await fn({ name, defer: (cleanup) => cleanups.push(cleanup) });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Keep cleaning up; the namespace must go whatever happened.
      }
    }
    await removeNamespace(name);
  }
}

/** The namespaces `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  return (await run('ip', ['netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean);
}

/** Runs `command args` inside namespace `ns`; resolves with its stdout (see {@link run}). */
export function runIn(ns: string, command: string, args: readonly string[] = [], options: RunOptions = {}): Promise<string> {
  return run('ip', ['netns', 'exec', ns, command, ...args], options);
}

/** The arguments of `ip` that run `command` (a program and its arguments) inside `ns`: `startProcess('ip', inNamespace(ns, ...))`. */
export function inNamespace(ns: string, ...command: string[]): string[] {
  return ['netns', 'exec', ns, ...command];
}

/** Runs `iptables -w ARGS` inside namespace `ns`; resolves with its output. */
export function iptables(ns: string, ...args: string[]): Promise<string> {
  return runIn(ns, 'iptables', ['-w', ...args]);
}

/**
 * Appends to OUTPUT in `ns` the rule that queues UDP to `port` (or a port range '5001:5003'): to
 * queue `target`, or over the range `target` ('3:4', as --queue-balance), followed by `extra`
 * (e.g. '--queue-bypass').
 */
export function queueUdpTo(ns: string, port: number | string, target: number | string, ...extra: string[]): Promise<string> {
  const queue = typeof target === 'number' ? ['--queue-num', String(target)] : ['--queue-balance', target];
  return iptables(ns, '-A', 'OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'NFQUEUE', ...queue, ...extra);
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

/** The rows of `/proc/net/netfilter/nfnetlink_queue` inside `ns`, each split into its numbers (queue, port id, waiting, ...). */
export async function queueTable(ns: string): Promise<number[][]> {
  const table = await runIn(ns, 'cat', ['/proc/net/netfilter/nfnetlink_queue']);
  return table
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.trim().split(/\s+/).map(Number));
}

/** The queue numbers bound in `ns` now, in the kernel's order. */
export async function boundQueues(ns: string): Promise<number[]> {
  return (await queueTable(ns)).map(([queue]) => queue!);
}

/** Waits until every queue of `queues` is bound in `ns`; `what` adds to the error when they never are. */
export async function waitBound(ns: string, queues: readonly number[], what: () => string = () => '', timeoutMs = 8_000): Promise<void> {
  await until(
    async () => {
      const bound = await boundQueues(ns);
      return queues.every((queue) => bound.includes(queue));
    },
    { timeoutMs, what: () => `queues ${queues.join(', ')} never bound in ${ns}: ${what()}` },
  );
}

/** The counters of one protocol line pair of `/proc/net/snmp` inside `ns` (e.g. 'Udp', 'Icmp'), by name. */
export async function snmpCounters(ns: string, protocol = 'Udp'): Promise<Record<string, number>> {
  const [names, values] = (await runIn(ns, 'cat', ['/proc/net/snmp'])).split('\n').filter((line) => line.startsWith(`${protocol}:`));
  if (names === undefined || values === undefined) throw new Error(`no ${protocol} counters in /proc/net/snmp`);
  const keys = names.split(/\s+/).slice(1);
  const numbers = values.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((key, i) => [key, numbers[i]!]));
}

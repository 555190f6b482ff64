/**
 * `nf-queue stats [--netns NAME] [--json | --prometheus]`: the queues of this host (or of namespace NAME) as
 * `/proc/net/netfilter/nfnetlink_queue` shows them, with the process holding each where `/proc`
 * tells, as a table, a JSON array or Prometheus' text format.
 */
import { existsSync } from 'node:fs';
import { NfqueueError, type PrometheusQueue, type QueueHealth, formatPrometheus, queueStats } from '@nfq/nfqueue';
import { type CommandOutput, EXIT_FAILED, EXIT_OK, EXIT_USAGE, parseOptionsOrExit, processOutput } from './shared.js';

/** `nf-queue stats --help`. */
export const STATS_USAGE = `Usage: nf-queue stats [--netns NAME] [--json | --prometheus]

The NFQUEUE queues bound on this host (or in network namespace NAME), from
/proc/net/netfilter/nfnetlink_queue: queue number, the netlink port id of the socket holding
it and, where /proc tells, that process; packets waiting for a verdict, copy mode and range,
packets the kernel dropped (queue full / socket full) and the last packet id.

  --netns NAME  look into namespace NAME (ip netns list), or the one of a path such as
                /proc/PID/ns/net, instead of this one
  --json        print a JSON array, one object per queue
  --prometheus  print the kernel's numbers of every queue in Prometheus' text format, as
                nf-queue --metrics serves them (waiting packets, kernel drops; the counters
                of the process holding a queue are its own to serve)
  -h, --help    print this help

Exit status: 0 (also when no queue is bound), 1 when nfnetlink_queue is absent or the
namespace does not exist, 2 for a wrong option.`;

/** One queue as `nf-queue stats` reports it. */
export interface QueueStatsRow {
  /** Queue number (`--queue-num`). */
  queue: number;
  /** Netlink port id of the socket bound to the queue. */
  portId: number;
  /** Process id of the holder, or null when /proc does not tell. */
  pid: number | null;
  /** Command name of the holder (`/proc/PID/comm`), or null. */
  command: string | null;
  /** Packets waiting in the kernel for a verdict. */
  waiting: number;
  /** Copy mode by name: `'none'`, `'meta'`, `'packet'` (or the kernel's number if unknown). */
  copyMode: string;
  /** Bytes of each packet copied to user space. */
  copyRange: number;
  /** Packets the kernel dropped because the queue was full (maxLen). */
  queueDropped: number;
  /** Packets the kernel dropped because the socket was full (the reader too slow). */
  userDropped: number;
  /** Last packet id handed out. */
  idSequence: number;
}

/** What `nf-queue stats` reads; tests replace these. */
export interface StatsDependencies {
  /** Where to write. */
  output?: CommandOutput;
  /** The queues with their holders (`queueStats` of @nfq/nfqueue, with `owners`, by default). */
  queueStats?: (options: { netns?: string; owners: true }) => QueueHealth[];
  /** Whether the host has nfnetlink_queue. */
  nfnetlinkQueuePresent?: () => boolean;
  /** Whether `ip netns` knows namespace `name`. */
  namespaceExists?: (name: string) => boolean;
}

const COPY_MODES = ['none', 'meta', 'packet'];

/** The name of copy mode number `mode` (0 none, 1 meta, 2 packet). */
export function copyModeName(mode: number): string {
  return COPY_MODES[mode] ?? String(mode);
}

/** The queues as `nf-queue stats` reports them, by queue number. */
export function toStatsRows(queues: readonly QueueHealth[]): QueueStatsRow[] {
  return [...queues]
    .sort((a, b) => a.queue - b.queue)
    .map((q) => ({
      queue: q.queue,
      portId: q.portId,
      pid: q.owner?.pid ?? null,
      command: q.owner?.command ?? null,
      waiting: q.waiting,
      copyMode: copyModeName(q.copyMode),
      copyRange: q.copyRange,
      queueDropped: q.queueDropped,
      userDropped: q.userDropped,
      idSequence: q.idSequence,
    }));
}

const COLUMNS: ReadonlyArray<[title: string, cell: (row: QueueStatsRow) => string, alignLeft?: boolean]> = [
  ['queue', (r) => String(r.queue)],
  ['port id', (r) => String(r.portId)],
  ['pid', (r) => (r.pid === null ? '-' : String(r.pid))],
  ['command', (r) => r.command ?? '-', true],
  ['waiting', (r) => String(r.waiting)],
  ['copy mode', (r) => r.copyMode, true],
  ['copy range', (r) => String(r.copyRange)],
  ['queue dropped', (r) => String(r.queueDropped)],
  ['user dropped', (r) => String(r.userDropped)],
  ['id sequence', (r) => String(r.idSequence)],
];

/**
 * The rows as an aligned text table, a header line first; numbers right-aligned. No rows gives
 * the one line `no queue is bound` (naming the namespace when there is one).
 */
export function formatStatsTable(rows: readonly QueueStatsRow[], netns?: string): string[] {
  if (rows.length === 0) return [`no queue is bound ${netns === undefined ? 'in this network namespace' : `in network namespace ${netns}`}`];
  const cells = rows.map((row) => COLUMNS.map(([, cell]) => cell(row)));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: readonly string[], header: boolean) =>
    values
      .map((value, i) => (header || COLUMNS[i]![2] ? value.padEnd(widths[i]!) : value.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS.map(([title]) => title), true), ...cells.map((c) => line(c, false))];
}

/** The rows as `nf-queue stats --json` prints them: one JSON array. */
export function formatStatsJson(rows: readonly QueueStatsRow[]): string {
  return JSON.stringify(rows);
}

/** The queues as `nf-queue stats --prometheus` prints them: the kernel's line of each, this process's counters where it holds the queue. */
export function toPrometheusQueues(queues: readonly QueueHealth[]): PrometheusQueue[] {
  return queues.map((q) => ({
    queue: q.queue,
    kernel: { waiting: q.waiting, queueDropped: q.queueDropped, userDropped: q.userDropped },
    ...(q.own ? { received: q.own.received, verdicts: q.own.verdicts, defaultVerdicts: q.own.defaultVerdicts, overruns: q.own.overruns, held: q.own.held } : {}),
  }));
}

/** Runs `nf-queue stats` with `args` (what follows `stats`); resolves to the exit status. */
export async function main(args: readonly string[], dependencies: StatsDependencies = {}): Promise<number> {
  const output = dependencies.output ?? processOutput;
  const prometheus = args.includes('--prometheus');
  const options = parseOptionsOrExit('stats', prometheus ? args.filter((arg) => arg !== '--prometheus') : args, STATS_USAGE, output);
  if (typeof options === 'number') return options;
  if (prometheus && options.json) {
    output.err('nf-queue stats: --json and --prometheus are two formats: choose one');
    return EXIT_USAGE;
  }
  const namespaceExists = dependencies.namespaceExists ?? ((netns: string) => existsSync(netns.startsWith('/') ? netns : `/run/netns/${netns}`));
  const nfnetlinkQueuePresent = dependencies.nfnetlinkQueuePresent ?? (() => existsSync('/proc/net/netfilter/nfnetlink_queue'));
  if (options.netns !== undefined && !namespaceExists(options.netns)) {
    output.err(`nf-queue stats: no network namespace ${options.netns} (see ip netns list)`);
    return EXIT_FAILED;
  }
  if (!nfnetlinkQueuePresent()) {
    output.err(
      'nf-queue stats: nfnetlink_queue is not available: /proc/net/netfilter/nfnetlink_queue is missing; load it with modprobe nfnetlink_queue (kernel option CONFIG_NETFILTER_NETLINK_QUEUE)',
    );
    return EXIT_FAILED;
  }
  let queues: QueueHealth[];
  try {
    queues = (dependencies.queueStats ?? queueStats)(options.netns === undefined ? { owners: true } : { netns: options.netns, owners: true });
  } catch (error) {
    // The table is root's to read, or the namespace cannot be entered: the library says which.
    if (!(error instanceof NfqueueError)) throw error;
    output.err(`nf-queue stats: ${error.message}`);
    return EXIT_FAILED;
  }
  if (prometheus) {
    const text = formatPrometheus(toPrometheusQueues(queues));
    if (text !== '') output.out(text.slice(0, -1)); // out() ends the line
    return EXIT_OK;
  }
  const rows = toStatsRows(queues);
  if (options.json) output.out(formatStatsJson(rows));
  else for (const line of formatStatsTable(rows, options.netns)) output.out(line);
  return EXIT_OK;
}

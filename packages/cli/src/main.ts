import { setPriority } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import {
  type KernelQueueStats,
  NfqueueError,
  type Queue,
  QueueAlreadyBoundError,
  type QueueOptions,
  type QueueRange,
  type QueueRangeOptions,
  dropPrivileges,
  openQueue,
  openQueueRange,
  queueStats,
} from '@nfq/nfqueue';
import { type CliOptions, USAGE, parseCommandLine } from './args.js';
import { type RunCounters, formatStatus, formatSummary } from './format.js';
import { type PcapTimestamp, openPcapWriter } from './pcap.js';
import { type AddedRule, type RuleSpec, addRule } from './rule.js';
import {
  COUNTER_SLOTS,
  COUNTER_VERDICTED,
  type RangeMessage,
  type ServeSettings,
  verdictGiver,
  packetOutput,
  serveSettings,
  workerHandlerQuery,
} from './serve.js';

/** Exit status for a bad command line. */
export const EXIT_USAGE = 2;
/** Exit status when the queue cannot be opened (or the run fails). */
export const EXIT_OPEN_FAILED = 1;
/** How often the live status line is refreshed, in milliseconds. */
export const STATUS_INTERVAL_MS = 500;
/** Erases the terminal line the cursor is on: carriage return, then ECMA-48 "erase in line" (whole line). */
export const CLEAR_LINE = '\r\x1b[2K';

/** Where packets are recorded for `--pcap` (normally a `PcapWriter`, from pcap.ts). */
export interface PacketRecorder {
  /** Appends one packet (see `PcapWriter.write`). */
  write(payload: Uint8Array, originalLength: number | undefined, timestamp: PcapTimestamp | undefined): void;
  /** The file descriptor that `--queue-balance` workers append records to. */
  readonly fd: number;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** What the command talks to; tests replace it. */
export interface CliEnvironment {
  /** Opens a queue (normally `@nfq/nfqueue`'s openQueue). */
  openQueue(options: QueueOptions): Promise<Queue>;
  /** Opens a range of queues, one worker each (normally `@nfq/nfqueue`'s openQueueRange). */
  openQueueRange(options: QueueRangeOptions): Promise<QueueRange>;
  /** The kernel's lines of /proc/net/netfilter/nfnetlink_queue (normally `@nfq/nfqueue`'s queueStats). */
  kernelQueueStats(netns: string | undefined): KernelQueueStats[];
  /** Switches to `user` keeping CAP_NET_ADMIN (normally `@nfq/nfqueue`'s dropPrivileges). */
  dropPrivileges(user: string): { uid: number; gid: number };
  /** Adds the `--rule` iptables rule; its `remove()` deletes it. */
  addRule(spec: RuleSpec): Promise<AddedRule>;
  /** Creates the `--pcap` file and writes its header. */
  openPcap(path: string): Promise<PacketRecorder>;
  /** Writes one line to standard output. */
  printLine(line: string): void;
  /** Writes one line to standard error. */
  printError(line: string): void;
  /** Writes to standard error as is (the status line: no newline). */
  writeStatus(text: string): void;
  /** Standard error is a terminal: the live status line is drawn there. */
  readonly stderrIsTerminal: boolean;
  /** Standard output is a terminal (workers' lines would run into the status line). */
  readonly stdoutIsTerminal: boolean;
  /** Calls `handler` on SIGINT, SIGTERM or SIGHUP; returns a function that stops listening. */
  onTerminationSignal(handler: (signal: string) => void): () => void;
  /** Milliseconds since some fixed point (normally `performance.now()`). */
  now(): number;
  /** Status line refresh interval (default {@link STATUS_INTERVAL_MS}). */
  readonly statusIntervalMs?: number;
}

/** The environment of a real run: the real binding, process streams, signals, iptables. */
export function processEnvironment(): CliEnvironment {
  return {
    openQueue: (options) => openQueue(options),
    openQueueRange: (options) => openQueueRange(options),
    kernelQueueStats: (netns) => queueStats(netns === undefined ? {} : { netns }),
    dropPrivileges: (user) => dropPrivileges(user),
    addRule,
    openPcap: openPcapWriter,
    printLine: (line) => process.stdout.write(`${line}\n`),
    printError: (line) => process.stderr.write(`${line}\n`),
    writeStatus: (text) => process.stderr.write(text),
    stderrIsTerminal: process.stderr.isTTY === true,
    stdoutIsTerminal: process.stdout.isTTY === true,
    onTerminationSignal(handler) {
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      for (const signal of signals) process.on(signal, handler);
      return () => {
        for (const signal of signals) process.off(signal, handler);
      };
    },
    now: () => performance.now(),
  };
}

/** One line for an error of opening or running: the library's message says what to do. */
export function describeError(error: unknown): string {
  if (error instanceof QueueAlreadyBoundError && error.ownerPid !== undefined && !error.message.includes(String(error.ownerPid))) {
    return `nf-queue: ${error.message} (pid ${error.ownerPid}${error.ownerCommand ? `, ${error.ownerCommand}` : ''})`;
  }
  if (error instanceof Error) {
    // openQueueRange prefixes its own name; the user ran nf-queue.
    const message = error.message.replace(/^openQueueRange: /, '');
    const code = (error as { code?: unknown }).code;
    const known = error instanceof NfqueueError || typeof code !== 'string' || message.includes(code);
    return `nf-queue: ${message}${known ? '' : ` (${code as string})`}`.split('\n')[0]!;
  }
  return `nf-queue: ${String(error)}`;
}

/** The queue options of `options` (the library's defaults where the command line said nothing). */
export function queueOptionsOf(options: CliOptions): Omit<QueueOptions, 'queue'> {
  const queueOptions: Omit<QueueOptions, 'queue'> = {
    copyMode: options.copyMode,
    gso: options.gso,
    // Every packet the command takes gets its verdict at once; at close the rest get the default now.
    drainTimeout: 0,
  };
  if (options.copyRange !== undefined) queueOptions.copyRange = options.copyRange;
  if (options.maxLen !== undefined) queueOptions.maxLen = options.maxLen;
  if (options.failOpen) queueOptions.failOpen = true;
  if (options.receiveBufferSize !== undefined) queueOptions.receiveBufferSize = options.receiveBufferSize;
  if (options.noEnobufs) queueOptions.noEnobufs = true;
  if (options.readerThread) queueOptions.readerThread = true;
  if (options.nice !== undefined) queueOptions.readerNice = options.nice;
  if (options.cpus !== undefined) queueOptions.readerCpus = options.cpus;
  if (options.netns !== undefined) queueOptions.netns = options.netns;
  return queueOptions;
}

/** What is being served: one queue, or a range in worker threads. */
interface Served {
  /** Counters now (a range's last known ones). */
  counters(): Promise<RunCounters>;
  /** The kernel's drops for the served queues, when /proc tells. */
  kernelDrops(): number | undefined;
  /** Closes gracefully; resolves with the final counters. */
  close(): Promise<RunCounters>;
}

/** The live status line on a terminal: redrawn every interval, erased before anything else is printed. */
class StatusLine {
  #shown = false;
  #timer: NodeJS.Timeout | undefined;
  #lastReceived = 0;
  #lastAt: number;

  constructor(
    private readonly environment: CliEnvironment,
    private readonly served: Served,
  ) {
    this.#lastAt = environment.now();
    this.#timer = setInterval(() => void this.#draw(), environment.statusIntervalMs ?? STATUS_INTERVAL_MS);
    this.#timer.unref();
  }

  async #draw(): Promise<void> {
    const counters = await this.served.counters();
    if (this.#timer === undefined) return; // stopped meanwhile
    const now = this.environment.now();
    const seconds = (now - this.#lastAt) / 1000;
    const rate = seconds > 0 ? (counters.received - this.#lastReceived) / seconds : 0;
    this.#lastAt = now;
    this.#lastReceived = counters.received;
    const line = formatStatus({
      received: counters.received,
      rate,
      accepted: counters.verdicts.accept,
      dropped: counters.verdicts.drop,
      overruns: counters.overruns,
      kernelDrops: this.served.kernelDrops(),
    });
    this.environment.writeStatus(`${CLEAR_LINE}${line}`);
    this.#shown = true;
  }

  /** Erases the line, if shown (before a packet line, and before the summary). */
  clear(): void {
    if (!this.#shown) return;
    this.environment.writeStatus(CLEAR_LINE);
    this.#shown = false;
  }

  /** Stops refreshing and erases the line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }
}

/** Runs what was opened until `stop` is called; the parts that differ between one queue and a range. */
interface Session {
  readonly served: Served;
  /** Drops privileges (on every thread that gives verdicts). */
  dropPrivileges(user: string): Promise<void>;
}

function serveQueue(
  queue: Queue,
  options: CliOptions,
  settings: ServeSettings,
  print: (line: string) => void,
  recorder: PacketRecorder | undefined,
  stop: (reason: string) => void,
  environment: CliEnvironment,
): Session {
  let verdicted = 0;
  const giveVerdict = verdictGiver(settings);
  queue.on('error', (error) => environment.printError(describeError(error)));
  queue.on('packet', (packet) => {
    if (options.count !== undefined && verdicted >= options.count) return; // the default verdict at close
    const line = packetOutput(packet, settings);
    if (line !== undefined) print(line);
    recorder?.write(packet.payload, packet.capLen, packet.timestamp);
    giveVerdict(packet);
    verdicted++;
    if (options.count !== undefined && verdicted >= options.count) stop('count');
  });
  const served: Served = {
    counters: async () => queue.stats(),
    kernelDrops() {
      const row = queue.kernelStats();
      return row === undefined ? undefined : row.queueDropped + row.userDropped;
    },
    async close() {
      await queue.close();
      return queue.stats();
    },
  };
  return {
    served,
    async dropPrivileges(user) {
      environment.dropPrivileges(user);
    },
  };
}

async function openRange(
  options: CliOptions,
  settings: ServeSettings,
  recorder: PacketRecorder | undefined,
  stop: (reason: string) => void,
  environment: CliEnvironment,
): Promise<Session> {
  const balance = options.queueBalance!;
  const counters = new Int32Array(new SharedArrayBuffer(COUNTER_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  const channelName = `nf-queue-${process.pid}-${randomBytes(6).toString('hex')}`;
  const channel = new BroadcastChannel(channelName);
  const finals = new Map<number, RunCounters>();
  channel.onmessage = (event) => {
    const message = (event as { data: RangeMessage }).data;
    if (message.type === 'hello') channel.postMessage({ type: 'setup', counters: counters.buffer as SharedArrayBuffer } satisfies RangeMessage);
    else if (message.type === 'final') finals.set(message.queue, message.stats);
  };
  const query = workerHandlerQuery({ ...settings, channel: channelName, count: options.count, pcapFd: recorder?.fd });
  let range: QueueRange;
  try {
    range = await environment.openQueueRange({
      ...queueOptionsOf(options),
      from: balance.from,
      to: balance.to,
      handler: new URL(`./worker-handler.js?${query}`, import.meta.url),
    });
  } catch (error) {
    channel.close();
    throw error;
  }
  range.on('error', (error) => {
    environment.printError(describeError(error));
    if (error.kind === 'WorkerLost') stop('error');
  });
  // Wake when the workers reach --count.
  let waiting = true;
  void (async () => {
    while (waiting && options.count !== undefined) {
      const seen = Atomics.load(counters, COUNTER_VERDICTED);
      if (seen >= options.count) {
        stop('count');
        return;
      }
      const wait = waitAsync(counters, COUNTER_VERDICTED, seen, 250);
      if (wait.async) await wait.value;
    }
  })();
  const merged = async (): Promise<RunCounters> => {
    const stats = await range.stats();
    return stats;
  };
  const served: Served = {
    counters: merged,
    kernelDrops() {
      const rows = environment.kernelQueueStats(options.netns).filter((row) => row.queue >= balance.from && row.queue <= balance.to);
      return rows.length === 0 ? undefined : rows.reduce((sum, row) => sum + row.queueDropped + row.userDropped, 0);
    },
    async close() {
      waiting = false;
      const before = await range.stats();
      await range.close();
      // Each worker posts its final counters as its queue closes; give them a moment to arrive.
      for (let waited = 0; finals.size < range.queues.length && waited < 500; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      channel.close();
      const perQueue = range.queues.map((queue) => finals.get(queue) ?? before.perQueue.get(queue)).filter((stats) => stats !== undefined);
      return sumCounters(perQueue);
    },
  };
  return {
    served,
    async dropPrivileges(user) {
      await range.dropPrivileges(user); // every worker keeps CAP_NET_ADMIN on its own thread
    },
  };
}

/** `Atomics.waitAsync` (Node 16+; its type is in lib ES2024, newer than this package's ES2022). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

function sumCounters(all: readonly RunCounters[]): RunCounters {
  const total = { received: 0, overruns: 0, verdicts: {} as Record<string, number>, defaultVerdicts: {} as Record<string, number> };
  for (const counters of all) {
    total.received += counters.received;
    total.overruns += counters.overruns;
    for (const [kind, value] of Object.entries(counters.verdicts)) total.verdicts[kind] = (total.verdicts[kind] ?? 0) + (value ?? 0);
    for (const [cause, value] of Object.entries(counters.defaultVerdicts ?? {})) {
      total.defaultVerdicts[cause] = (total.defaultVerdicts[cause] ?? 0) + (value ?? 0);
    }
  }
  return {
    ...total,
    verdicts: { accept: 0, drop: 0, ...total.verdicts },
  };
}

/**
 * Runs `nf-queue` with `argv` (without node and script paths); resolves with the exit status:
 * 0 after a graceful end (`--count` reached, SIGINT, SIGTERM, SIGHUP), 1 when it could not run
 * (no CAP_NET_ADMIN, queue taken, rule refused...), 2 for a bad command line, refused with one
 * line on stderr before any socket opens.
 */
export async function runCli(argv: readonly string[], environment: CliEnvironment = processEnvironment()): Promise<number> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.kind === 'help') {
    environment.printLine(USAGE);
    return 0;
  }
  if (commandLine.kind === 'error') {
    environment.printError(`nf-queue: ${commandLine.message} (see nf-queue --help)`);
    return EXIT_USAGE;
  }
  const options = commandLine.options;
  const settings = serveSettings(options);

  // From here on a signal ends the run gracefully, whatever stage it reaches.
  let stopReason: string | undefined;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const stop = (reason: string): void => {
    stopReason ??= reason;
    wake?.();
  };
  const stopListening = environment.onTerminationSignal((signal) => stop(signal));

  let recorder: PacketRecorder | undefined;
  let session: Session | undefined;
  let rule: AddedRule | undefined;
  let status: StatusLine | undefined;
  let exitCode = 0;
  try {
    try {
      if (options.pcap !== undefined) recorder = await environment.openPcap(options.pcap);
      const print = (line: string): void => {
        status?.clear();
        environment.printLine(line);
      };
      if (options.queueBalance) {
        session = await openRange(options, settings, recorder, stop, environment);
      } else {
        const queue = await environment.openQueue({ queue: options.queue, ...queueOptionsOf(options) });
        // The receiving thread took --nice itself (readerNice); the main thread (the same one, unless
        // --reader-thread) gets it too.
        if (options.nice !== undefined) setPriority(options.nice);
        session = serveQueue(queue, options, settings, print, recorder, stop, environment);
      }
      const started = environment.now();
      if (options.rule !== undefined && stopReason === undefined) {
        rule = await environment.addRule({ words: options.rule, queue: options.queue, queueBalance: options.queueBalance, netns: options.netns });
      }
      if (options.user !== undefined) await session.dropPrivileges(options.user);
      const workersPrintToTerminal = options.queueBalance !== undefined && settings.output !== 'none' && environment.stdoutIsTerminal;
      if (environment.stderrIsTerminal && !options.quiet && !workersPrintToTerminal) status = new StatusLine(environment, session.served);
      await stopped;
      status?.stop();
      // The rule goes first: then no new packet is queued to a queue about to unbind.
      if (rule) {
        const added = rule;
        rule = undefined;
        await added.remove().catch((error: unknown) => {
          environment.printError(describeError(error));
          exitCode = EXIT_OPEN_FAILED;
        });
      }
      const final = await session.served.close();
      session = undefined;
      environment.printError(formatSummary(final, (environment.now() - started) / 1000));
    } catch (error) {
      status?.stop();
      environment.printError(describeError(error));
      exitCode = EXIT_OPEN_FAILED;
    }
  } finally {
    // Whatever happened: every held packet gets its verdict, the rule goes, the file is complete.
    if (session) await session.served.close().catch(() => undefined);
    if (rule) {
      await rule.remove().catch((error: unknown) => {
        environment.printError(describeError(error));
        exitCode = EXIT_OPEN_FAILED;
      });
    }
    if (recorder) {
      await recorder.close().catch((error: unknown) => {
        environment.printError(describeError(error));
        exitCode = EXIT_OPEN_FAILED;
      });
    }
    stopListening();
  }
  return exitCode;
}

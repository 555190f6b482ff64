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
  mergeStats,
  openQueue,
  openQueueRange,
  queueStats,
} from '@nfq/nfqueue';
import { type CliOptions, USAGE, parseCommandLine } from './args.js';
import { type KernelDrops, type RunCounters, formatStatus, formatSummary } from './format.js';
import { type PcapTimestamp, type PcapWriterOptions, openPcapWriter } from './pcap.js';
import { type AddedRule, type RuleSpec, addRule } from './rule.js';
import {
  COUNTER_IN_FLIGHT,
  COUNTER_LINES_DROPPED,
  COUNTER_PCAP_CLOSED,
  COUNTER_RECORDS_DROPPED,
  COUNTER_SLOTS,
  COUNTER_STDOUT_CLOSED,
  COUNTER_VERDICTED,
  type RangeMessage,
  type ServeSettings,
  type WorkerHandlerSetup,
  verdictGiver,
  packetOutput,
  serveSettings,
} from './serve.js';

/** Exit status for a bad command line. */
export const EXIT_USAGE = 2;
/** Exit status when the queue cannot be opened (or the run fails). */
export const EXIT_OPEN_FAILED = 1;
/** How often the live status line is refreshed, in milliseconds. */
export const STATUS_INTERVAL_MS = 500;
/** Erases the terminal line the cursor is on: carriage return, then ECMA-48 "erase in line" (whole line). */
export const CLEAR_LINE = '\r\x1b[2K';
/** Bytes standard output may hold while its reader is behind (1 MiB); lines beyond are dropped and counted. */
export const STDOUT_BUFFER_BYTES = 1024 * 1024;
/** How long, at the end of a run, standard output's reader gets to take what is held: 2 s. */
export const STDOUT_CLOSE_DEADLINE_MS = 2000;

/**
 * Where packets are recorded for `--pcap` (normally a `PcapWriter`, from pcap.ts). It never
 * blocks: what does not fit while the file is behind is dropped and counted.
 */
export interface PacketRecorder {
  /** Appends one packet (see `PcapWriter.write`). */
  write(payload: Uint8Array, originalLength: number | undefined, timestamp: PcapTimestamp | undefined): void;
  /** Appends `count` whole records made by a `--queue-balance` worker. */
  appendRecords(bytes: Uint8Array, count: number): void;
  /** Calls `handler` on the first write error. */
  onError(handler: (error: Error) => void): void;
  /** Records dropped while the file was behind. */
  readonly dropped: number;
  /** Records accepted but never written (a write error, or the close deadline). */
  readonly lost: number;
  /** Writes what is held (within a deadline) and closes the file; never rejects. */
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
  /** Creates the `--pcap` file and writes its header (waiting for a FIFO's reader until `options.signal` aborts). */
  openPcap(path: string, options: PcapWriterOptions): Promise<PacketRecorder>;
  /**
   * Writes one line to standard output (or `lines` lines, joined by newlines, without the last).
   * Never throws nor blocks: while the reader is behind, what does not fit is dropped and counted.
   */
  printLine(line: string, lines?: number): void;
  /** Calls `handler` once when writing to standard output fails (EPIPE: its reader closed it; EIO, ENOSPC...). */
  onStdoutError(handler: (error: NodeJS.ErrnoException) => void): void;
  /** Lines not printed because standard output was behind. */
  stdoutDropped(): number;
  /**
   * At the end of a run: waits at most `deadlineMs` for standard output's reader to take what is
   * held, then gives it up (so that a reader that never reads cannot keep the process alive);
   * resolves with the number of lines given up.
   */
  finishOutput(deadlineMs: number): Promise<number>;
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
  const stdout = process.stdout;
  let stdoutError: NodeJS.ErrnoException | undefined;
  let stdoutDropped = 0;
  let linesWritten = 0;
  let linesTaken = 0;
  let abandoned = false;
  const stdoutHandlers: Array<(error: NodeJS.ErrnoException) => void> = [];
  const taken = (lines: number) => (): void => void (linesTaken += lines);
  // A closed pipe (EPIPE) or a failing device is reported once, never thrown.
  stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (stdoutError || abandoned) return;
    stdoutError = error;
    for (const handler of stdoutHandlers) handler(error);
  });
  let stderrFailed = false;
  process.stderr.on('error', () => (stderrFailed = true));
  const writeStderr = (text: string): void => {
    if (!stderrFailed && !process.stderr.destroyed) process.stderr.write(text);
  };
  return {
    openQueue: (options) => openQueue(options),
    openQueueRange: (options) => openQueueRange(options),
    kernelQueueStats: (netns) => queueStats(netns === undefined ? {} : { netns }),
    dropPrivileges: (user) => dropPrivileges(user),
    addRule,
    openPcap: openPcapWriter,
    printLine(line, lines = 1) {
      if (stdoutError || stdout.destroyed) return;
      if (stdout.writableLength > STDOUT_BUFFER_BYTES) {
        stdoutDropped += lines;
        return;
      }
      linesWritten += lines;
      stdout.write(`${line}\n`, taken(lines));
    },
    async finishOutput(deadlineMs) {
      if (stdoutError || stdout.writableLength === 0) return 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, deadlineMs);
        stdout.once('drain', done);
        function done(): void {
          clearTimeout(timer);
          stdout.off('drain', done);
          resolve();
        }
      });
      if (stdout.writableLength === 0) return 0;
      // Writes still queued for a pipe keep the event loop alive: closing the handle cancels them.
      abandoned = true;
      const given = linesWritten - linesTaken;
      (stdout as unknown as { _handle?: { close(): void } })._handle?.close();
      return given;
    },
    onStdoutError(handler) {
      stdoutHandlers.push(handler);
      if (stdoutError) handler(stdoutError);
    },
    stdoutDropped: () => stdoutDropped,
    printError: (line) => writeStderr(`${line}\n`),
    writeStatus: (text) => writeStderr(text),
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
  /** Stops making lines (standard output failed) or pcap records (the file failed, or closes). */
  stopOutput(what: 'stdout' | 'pcap'): void;
  /** Lines and pcap records dropped before they reached the main thread (a range's workers; 0 for one queue). */
  outputDropped(): { lines: number; records: number };
  /** Closes gracefully; resolves with the final counters and the kernel's drops read just before unbinding. */
  close(): Promise<{ counters: RunCounters; kernelDrops: KernelDrops | undefined }>;
}

/** The kernel's drops summed over `rows`; undefined when there is none (no /proc line). */
function sumKernelDrops(rows: readonly KernelQueueStats[]): KernelDrops | undefined {
  if (rows.length === 0) return undefined;
  return {
    queueFull: rows.reduce((sum, row) => sum + row.queueDropped, 0),
    socketFull: rows.reduce((sum, row) => sum + row.userDropped, 0),
  };
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
  const kernelRows = (): KernelQueueStats[] => {
    const row = queue.kernelStats();
    return row === undefined ? [] : [row];
  };
  const served: Served = {
    counters: async () => queue.stats(),
    kernelDrops() {
      const drops = sumKernelDrops(kernelRows());
      return drops === undefined ? undefined : drops.queueFull + drops.socketFull;
    },
    stopOutput: () => undefined, // printLine and the recorder stop by themselves
    outputDropped: () => ({ lines: 0, records: 0 }),
    async close() {
      await queue.close();
      // After close, the queue's last line, read as it unbound: it counts the drops of the shutdown too.
      let kernelDrops: KernelDrops | undefined;
      try {
        kernelDrops = sumKernelDrops(kernelRows());
      } catch {
        kernelDrops = undefined;
      }
      return { counters: queue.stats(), kernelDrops };
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
  print: (text: string, lines: number) => void,
  recorder: PacketRecorder | undefined,
  stop: (reason: string) => void,
  environment: CliEnvironment,
): Promise<Session> {
  const balance = options.queueBalance!;
  const counters = new Int32Array(new SharedArrayBuffer(COUNTER_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  const outputChannel = `nf-queue-${process.pid}-${randomBytes(6).toString('hex')}.output`;
  const output = new BroadcastChannel(outputChannel);
  const finals = new Map<number, RunCounters>();
  /** Each worker's kernel line, read just before its queue unbound. */
  const finalKernelRows = new Map<number, KernelQueueStats>();
  // The workers' lines and records: taken at once (the bound of what is in flight is freed), then
  // printed or written by the main thread's bounded writers.
  output.onmessage = (event) => {
    const message = (event as { data: RangeMessage }).data;
    if (message.type === 'final') {
      finals.set(message.queue, message.stats);
      if (message.kernel) finalKernelRows.set(message.queue, message.kernel);
    }
    if (message.type !== 'output') return;
    Atomics.sub(counters, COUNTER_IN_FLIGHT, message.size);
    if (message.text !== undefined) print(message.text, message.lines ?? 1);
    if (message.records !== undefined) recorder?.appendRecords(message.records, message.count ?? 0);
  };
  const handlerData: WorkerHandlerSetup = {
    ...settings,
    counters: counters.buffer as SharedArrayBuffer,
    outputChannel,
    count: options.count,
    pcap: recorder !== undefined,
  };
  let range: QueueRange;
  try {
    range = await environment.openQueueRange({
      ...queueOptionsOf(options),
      from: balance.from,
      to: balance.to,
      handler: new URL('./worker-handler.js', import.meta.url),
      handlerData,
    });
  } catch (error) {
    output.close();
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
  const kernelRows = (): KernelQueueStats[] =>
    environment.kernelQueueStats(options.netns).filter((row) => row.queue >= balance.from && row.queue <= balance.to);
  const served: Served = {
    counters: merged,
    kernelDrops() {
      const drops = sumKernelDrops(kernelRows());
      return drops === undefined ? undefined : drops.queueFull + drops.socketFull;
    },
    stopOutput(what) {
      Atomics.store(counters, what === 'stdout' ? COUNTER_STDOUT_CLOSED : COUNTER_PCAP_CLOSED, 1);
    },
    outputDropped: () => ({ lines: Atomics.load(counters, COUNTER_LINES_DROPPED), records: Atomics.load(counters, COUNTER_RECORDS_DROPPED) }),
    async close() {
      waiting = false;
      const before = await range.stats();
      // The lines as they are now, for a queue whose worker posts none (it was lost).
      let rowsBefore: KernelQueueStats[] = [];
      try {
        rowsBefore = kernelRows();
      } catch {
        rowsBefore = [];
      }
      await range.close();
      // Each worker posts its final counters as its queue closes; give them a moment to arrive.
      for (let waited = 0; finals.size < range.queues.length && waited < 500; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      output.close();
      const perQueue = range.queues.map((queue) => finals.get(queue) ?? before.perQueue.get(queue)).filter((stats) => stats !== undefined);
      // Each worker's last line, read as its queue unbound, counts the drops of the shutdown too.
      const lastRows = range.queues
        .map((queue) => finalKernelRows.get(queue) ?? rowsBefore.find((row) => row.queue === queue))
        .filter((row) => row !== undefined);
      return { counters: mergeStats([NO_COUNTERS, ...perQueue]), kernelDrops: sumKernelDrops(lastRows) };
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

/** Counters of no queue: what {@link mergeStats} adds a range's queues to (a range whose workers posted none sums to these). */
const NO_COUNTERS: RunCounters = { received: 0, overruns: 0, verdicts: { accept: 0, drop: 0 }, defaultVerdicts: {} };

/**
 * Runs `nf-queue` with `argv` (without node and script paths); resolves with the exit status:
 * 0 after a graceful end (`--count` reached, SIGINT, SIGTERM, SIGHUP, stdout's reader closed it),
 * 1 when it could not run or an output failed (no CAP_NET_ADMIN, queue taken, rule refused, a
 * write error on stdout or the pcap file...), 2 for a bad command line, refused with one line on
 * stderr before any socket opens. Every way out gives every held packet its verdict first.
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
  const opening = new AbortController();
  const stop = (reason: string): void => {
    stopReason ??= reason;
    opening.abort();
    wake?.();
  };
  const stopListening = environment.onTerminationSignal((signal) => stop(signal));

  let recorder: PacketRecorder | undefined;
  let session: Session | undefined;
  let rule: AddedRule | undefined;
  let status: StatusLine | undefined;
  let exitCode = 0;
  // An output fault ends the run as a signal does (every packet gets its verdict, then the
  // summary): a closed stdout (EPIPE, as `nf-queue | head`) quietly with 0, as tcpdump; any other
  // write error with one line naming what failed, and 1.
  environment.onStdoutError((error) => {
    session?.served.stopOutput('stdout');
    if (error.code !== 'EPIPE') {
      environment.printError(`nf-queue: cannot write to standard output: ${error.message}`);
      exitCode = EXIT_OPEN_FAILED;
    }
    stop('stdout');
  });
  try {
    try {
      if (options.pcap !== undefined) {
        const path = options.pcap;
        try {
          recorder = await environment.openPcap(path, {
            signal: opening.signal,
            onWaitingForReader: () => environment.printError(`nf-queue: ${path} is a FIFO that nobody reads yet: waiting for a reader (Ctrl-C to give up)`),
          });
        } catch (error) {
          if (!opening.signal.aborted) throw error;
          environment.printError(`nf-queue: nobody opened ${path} for reading; stopped (${stopReason}) before binding`);
          return exitCode;
        }
        recorder.onError((error) => {
          session?.served.stopOutput('pcap');
          if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
            environment.printError(`nf-queue: the reader of ${path} closed it; stopping`);
          } else {
            environment.printError(`nf-queue: cannot write the pcap file ${path}: ${error.message}`);
            exitCode = EXIT_OPEN_FAILED;
          }
          stop('pcap');
        });
      }
      const print = (text: string, lines = 1): void => {
        status?.clear();
        environment.printLine(text, lines);
      };
      if (options.queueBalance) {
        session = await openRange(options, settings, print, recorder, stop, environment);
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
      const served = session.served;
      const final = await served.close();
      session = undefined;
      const seconds = (environment.now() - started) / 1000;
      // The file is complete (or given up on at its deadline), and stdout too, before the summary counts what is missing.
      const [linesGivenUp] = await Promise.all([environment.finishOutput(STDOUT_CLOSE_DEADLINE_MS), recorder?.close()]);
      const dropped = served.outputDropped();
      environment.printError(
        formatSummary(final.counters, seconds, {
          kernelDrops: final.kernelDrops,
          linesDropped: environment.stdoutDropped() + dropped.lines + linesGivenUp,
          pcap: recorder && options.pcap !== undefined ? { path: options.pcap, dropped: recorder.dropped + dropped.records, lost: recorder.lost } : undefined,
        }),
      );
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
    await recorder?.close();
    stopListening();
  }
  return exitCode;
}

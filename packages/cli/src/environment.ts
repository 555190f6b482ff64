/**
 * What `nf-queue` talks to ({@link CliEnvironment}), and the real one ({@link processEnvironment}):
 * the library, standard output and error (bounded, never blocking), the `--pcap` recorder, the
 * termination signals and the clock. Tests replace it.
 */
import {
  type KernelQueueStats,
  type Queue,
  type QueueOptions,
  type QueueRange,
  type QueueRangeOptions,
  dropPrivileges,
  openQueue,
  openQueueRange,
  queueStats,
} from '@nfq/nfqueue';
import { type PcapTimestamp, type PcapWriterOptions, openPcapWriter } from './pcap.js';
import { type AddedRule, type RuleSpec, addRule } from './rule.js';
import type { STATUS_INTERVAL_MS } from './status-line.js';

/** Bytes standard output may hold while its reader is behind (1 MiB); lines beyond are dropped and counted. */
export const STDOUT_BUFFER_BYTES = 1024 * 1024;

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

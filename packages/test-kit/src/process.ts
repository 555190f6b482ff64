/**
 * Commands and child processes for tests: run a command to its end, start one and watch what it
 * prints, poll for a condition.
 */
import { type ChildProcess, type ExecFileOptions, execFile, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** How a command ended: its exit status (-1 when it could not run) and what it printed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run} and {@link runResult}: those of `execFile` (cwd, env, timeout, ...). */
export type RunOptions = Omit<ExecFileOptions, 'encoding'>;

/** Runs `command args` to its end; resolves with how it ended, whatever its exit status. */
export function runResult(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 64 * 1024 * 1024, ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr: error !== null && code === -1 && stderr === '' ? error.message : stderr });
    });
  });
}

/** Runs `command args`; resolves with its stdout, rejects with its stderr in the message when it fails. */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await runResult(command, args, options);
  if (result.code !== 0) {
    throw Object.assign(new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`), result);
  }
  return result.stdout;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link until}. */
export interface UntilOptions {
  /** Give up after this long (default 5 s). */
  timeoutMs?: number;
  /** What was awaited, for the error when it never came (called then). */
  what?: () => string;
}

/** Polls `condition` every 20 ms until it holds; rejects after `options.timeoutMs` naming `options.what`. */
export async function until(condition: () => boolean | Promise<boolean>, options: UntilOptions = {}): Promise<void> {
  const { timeoutMs = 5_000, what } = options;
  for (const started = performance.now(); !(await condition()); ) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting${what ? `: ${what()}` : ''}`);
    await sleep(20);
  }
}

/** Options of {@link startProcess}. */
export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** `ignore` leaves stdout unread (default `pipe`: collected). */
  stdout?: 'pipe' | 'ignore';
}

/** A child process started by {@link startProcess}, and what it printed so far. */
export interface Started {
  readonly child: ChildProcess & { readonly stdin: Writable; readonly stdout: Readable | null; readonly stderr: Readable };
  stdout(): string;
  stderr(): string;
  /** Its stdout lines that are JSON objects, parsed. */
  jsonLines<T = Record<string, unknown>>(): T[];
  /** Its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Resolves once its stdout (or `stream`) matches `pattern`; rejects when it exits first or after `timeoutMs`. */
  waitForOutput(pattern: string | RegExp, options?: { stream?: 'stdout' | 'stderr'; timeoutMs?: number }): Promise<void>;
  /** Sends `signal` (default SIGTERM) unless it has exited; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Children started and maybe still running: {@link killStartedProcesses} ends them. */
const startedChildren = new Set<ChildProcess>();

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * Starts `command args` with stdin and stderr piped (stdout too unless `options.stdout` is
 * `ignore`), collecting what it prints. It is killed by {@link killStartedProcesses} and when the
 * test process exits.
 */
export function startProcess(command: string, args: readonly string[], options: StartOptions = {}): Started {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'] });
  startedChildren.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  // A child that exits before reading its stdin must not fail the test with EPIPE.
  child.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => startedChildren.delete(child));
  return {
    child: child as Started['child'],
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    jsonLines: <T>() =>
      output.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as T),
    exited,
    async waitForOutput(pattern, { stream = 'stdout', timeoutMs = 10_000 } = {}) {
      const matches = (): boolean => (typeof pattern === 'string' ? output[stream].includes(pattern) : pattern.test(output[stream]));
      await until(() => matches() || !running(child), {
        timeoutMs,
        what: () => `${command} never printed ${pattern}: ${output.stdout}${output.stderr}`,
      });
      if (!matches()) throw new Error(`${command} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}: ${output.stdout}${output.stderr}`);
    },
    async stop(signal = 'SIGTERM') {
      if (running(child)) child.kill(signal);
      return exited;
    },
  };
}

/** Kills (SIGKILL) every process {@link startProcess} started that still runs; for `afterEach`. */
export function killStartedProcesses(): void {
  for (const child of startedChildren) if (running(child)) child.kill('SIGKILL');
  startedChildren.clear();
}

process.once('exit', killStartedProcesses);

/**
 * The `setpriv` command line that runs what follows it as nobody (uid and gid 65534, no
 * supplementary groups), with `extra` options such as `--inh-caps=-all`.
 */
export function asNobody(...extra: string[]): string[] {
  return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...extra];
}

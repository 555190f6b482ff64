/**
 * What the subcommands (`nf-queue stats`, `doctor`, `demo`) share: their small option parser,
 * exit codes and the output streams they write to.
 */
import { execFile } from 'node:child_process';

/** Exit status of a subcommand that did its job. */
export const EXIT_OK = 0;
/** Exit status when the machine lacks something the subcommand needs. */
export const EXIT_FAILED = 1;
/** Exit status of a usage mistake (an unknown option, a missing value). */
export const EXIT_USAGE = 2;

/** Where a subcommand writes: one call per line, without the newline. Tests pass arrays. */
export interface CommandOutput {
  /** Writes one line of results (stdout). */
  out(line: string): void;
  /** Writes one line of diagnostics (stderr). */
  err(line: string): void;
}

/** The process's stdout and stderr as a {@link CommandOutput}. */
export const processOutput: CommandOutput = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

/** The options `stats` and `doctor` take: `[--netns NAME] [--json] [--help]`. */
export interface CommonOptions {
  /** Network namespace (`ip netns add NAME`) to look into, instead of this one. */
  netns?: string;
  /** Write JSON instead of text. */
  json: boolean;
  /** `--help` or `-h` was given. */
  help: boolean;
}

/** A command line a subcommand cannot use; its message is the one line to print. */
export class UsageError extends Error {
  /** Creates the error with the line to show the user. */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses `[--netns NAME] [--json] [--help]` (also `--netns=NAME`), and nothing else: any other
 * word throws a {@link UsageError} naming it. `accepted` limits which of the options are allowed.
 */
export function parseCommonOptions(
  command: string,
  args: readonly string[],
  accepted: ReadonlyArray<'netns' | 'json'> = ['netns', 'json'],
): CommonOptions {
  const options: CommonOptions = { json: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inlineValue] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--help' || name === '-h') {
      options.help = true;
    } else if (name === '--json' && accepted.includes('json') && inlineValue === undefined) {
      options.json = true;
    } else if (name === '--netns' && accepted.includes('netns')) {
      const value = inlineValue ?? args[++i];
      if (value === undefined || value === '' || (inlineValue === undefined && value.startsWith('-'))) {
        throw new UsageError(`nf-queue ${command}: --netns needs a namespace name (see ip netns list)`);
      }
      // stats reads the table through nfq-core, which enters a namespace by path too; doctor runs
      // `ip netns exec`, which takes names only.
      const pathAllowed = command === 'stats' && value.startsWith('/');
      if ((value.includes('/') && !pathAllowed) || value === '.' || value === '..') {
        throw new UsageError(
          `nf-queue ${command}: --netns ${value}: not a namespace name (see ip netns list)${command === 'stats' ? ' nor the absolute path of a namespace file' : ''}`,
        );
      }
      options.netns = value;
    } else {
      throw new UsageError(`nf-queue ${command}: unknown option ${arg} (see nf-queue ${command} --help)`);
    }
  }
  return options;
}

/**
 * The start every subcommand shares: parses its options; on `--help` prints `usage`, on a bad
 * command line prints the one-line reason. Returns the options, or the exit status when done.
 */
export function parseOptionsOrExit(
  command: string,
  args: readonly string[],
  usage: string,
  output: CommandOutput,
): CommonOptions | number {
  let options: CommonOptions;
  try {
    options = parseCommonOptions(command, args);
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(error.message);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (options.help) {
    for (const line of usage.split('\n')) output.out(line);
    return EXIT_OK;
  }
  return options;
}

/** The outcome of running a program: its output, or why it could not run or failed. */
export type CommandResult =
  | { ok: true; stdout: string; stderr: string }
  | { ok: false; notFound: boolean; code: number | string | undefined; stdout: string; stderr: string; message: string };

/** Runs `command args` without a shell and never throws: a missing program is `notFound`. */
export function runProgram(command: string, args: readonly string[], timeoutMs = 10_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      if (!error) {
        resolve({ ok: true, stdout, stderr });
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      const firstLine = (stderr || error.message).trim().split('\n')[0] ?? '';
      resolve({ ok: false, notFound: code === 'ENOENT', code, stdout, stderr, message: firstLine });
    });
  });
}

/** True when effective capability set `capEff` (the hex of `CapEff:` in /proc/PID/status) holds CAP_NET_ADMIN (bit 12). */
export function hasNetAdmin(capEff: string | undefined): boolean {
  if (capEff === undefined || !/^[0-9a-fA-F]+$/.test(capEff.trim())) return false;
  return ((BigInt(`0x${capEff.trim()}`) >> 12n) & 1n) === 1n;
}

/** The hex `CapEff` of a `/proc/PID/status` text, or undefined. */
export function parseCapEff(status: string): string | undefined {
  return /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status)?.[1];
}

/** How to get CAP_NET_ADMIN, in one sentence. */
export const HOW_TO_GET_NET_ADMIN =
  'run as root, or grant the capability: setpriv --inh-caps +net_admin --ambient-caps +net_admin nf-queue ..., or systemd AmbientCapabilities=CAP_NET_ADMIN';

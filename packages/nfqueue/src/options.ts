import { cpus } from 'node:os';
import { InvalidOptionError } from './errors.js';
import type { NativeBinding, NativeQueueOptions } from './native.js';
import { OPTION_LIMITS, type OptionLimit } from './option-limits.js';
import { eventLoopReaderProblem } from './runtime.js';

/** Options of {@link openQueue}: how to bind the queue, and the queue's own policy. */
export interface QueueOptions extends NativeQueueOptions {
  /** Verdict for packets whose handler failed, that timed out, or that are waiting at close (default 'accept'). */
  defaultVerdict?: 'accept' | 'drop';
  /** Milliseconds a packet may wait for its verdict before it gets the default verdict (default: no limit). */
  verdictTimeout?: number;
  /** Milliseconds `close()` waits for held packets' verdicts before giving the default (default 2000). */
  drainTimeout?: number;
  /** Packets held without a verdict (by handlers or unread by an iterator) before reading pauses (default 4096). */
  highWaterMark?: number;
  /** Closes the queue (gracefully, as `close()`) when aborted. */
  signal?: AbortSignal;
}

/** What {@link openQueue} is built on; tests pass a fake binding here. */
export interface QueueDependencies {
  /** The native module; by default the napi binding in `native/`. */
  binding?: NativeBinding;
}

type Check = (value: unknown) => string | undefined;

const integer =
  (min: number, max: number, what = `an integer from ${min} to ${max}`): Check =>
  (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
      ? undefined
      : `must be ${what}, got ${describe(value)}`;

/** A check of an option whose range the native core checks too (both read {@link OPTION_LIMITS}). */
const limited = ({ min, max, what }: OptionLimit): Check => integer(min, max, `${what} from ${min} to ${max}`);

const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`);

const oneOf =
  (...allowed: string[]): Check =>
  (value) =>
    typeof value === 'string' && allowed.includes(value)
      ? undefined
      : `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`;

const milliseconds =
  (min: number): Check =>
  (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= 2 ** 31 - 1
      ? undefined
      : `must be a number of milliseconds from ${min} to 2147483647, got ${describe(value)}`;

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** What each option of {@link openQueue} accepts (a null-prototype table: only these names are options). */
const checks: Record<keyof QueueOptions, Check> = Object.assign(Object.create(null) as Record<keyof QueueOptions, Check>, {
  queue: limited(OPTION_LIMITS.queue),
  copyMode: (value) =>
    value === 'none'
      ? "must be 'meta' or 'packet': with 'none' the kernel queues nothing and drops every matched packet; use 'meta' for metadata only"
      : oneOf('meta', 'packet')(value),
  copyRange: limited(OPTION_LIMITS.copyRange),
  maxLen: limited(OPTION_LIMITS.maxLen),
  failOpen: boolean,
  conntrack: boolean,
  gso: boolean,
  uidGid: boolean,
  secctx: boolean,
  receiveBufferSize: limited(OPTION_LIMITS.receiveBufferSize),
  noEnobufs: boolean,
  batchSize: limited(OPTION_LIMITS.batchSize),
  netns: (value) =>
    typeof value === 'string' && value.length > 0 && !value.includes('\0')
      ? undefined
      : `must be a namespace name (as in \`ip netns add NAME\`) or a path, got ${describe(value)}`,
  readerThread: (value) => boolean(value) ?? (value === false ? eventLoopReaderProblem() : undefined),
  readerCpus: (value) => {
    if (!(Array.isArray(value) && value.length > 0)) return `must be a non-empty array of CPU numbers, got ${describe(value)}`;
    for (const [index, cpu] of value.entries()) {
      const problem = limited(OPTION_LIMITS.readerCpus)(cpu);
      if (problem) return `[${index}] ${problem}`;
    }
    const count = cpus().length; // 0 where the system does not tell: the kernel then decides
    const missing = (value as number[]).find((cpu) => count > 0 && cpu >= count);
    return missing === undefined ? undefined : `CPU ${missing} does not exist: this machine has CPUs 0 to ${count - 1}`;
  },
  readerNice: limited(OPTION_LIMITS.readerNice),
  defaultVerdict: oneOf('accept', 'drop'),
  verdictTimeout: milliseconds(1),
  drainTimeout: milliseconds(0),
  highWaterMark: integer(1, 2 ** 24, 'a packet count from 1 to 16777216'),
  signal: (value: unknown) => (value instanceof AbortSignal ? undefined : `must be an AbortSignal, got ${describe(value)}`),
} satisfies Record<keyof QueueOptions, Check>);

/**
 * Checks every option of {@link openQueue} before any system call; throws {@link InvalidOptionError}
 * naming the first bad one (an unknown name too: a typo must not pass silently).
 */
export function validateQueueOptions(options: unknown, caller = 'openQueue'): asserts options is QueueOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', `must be an object such as { queue: 0 }, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  if (!Object.hasOwn(given, 'queue') || given.queue === undefined) {
    throw new InvalidOptionError('queue', 'is required: the number given to iptables -j NFQUEUE --queue-num');
  }
  for (const [name, value] of Object.entries(given)) {
    const check = Object.hasOwn(checks, name) ? checks[name as keyof QueueOptions] : undefined;
    if (!check) {
      throw new InvalidOptionError(name, `is not an option of ${caller} (known: ${Object.keys(checks).join(', ')})`);
    }
    if (value === undefined) continue;
    const problem = check(value);
    if (problem) throw new InvalidOptionError(name, problem);
  }
}

/** Checks that option `name` holds a queue number, as `queue` of {@link openQueue} must. @internal */
export function checkQueueNumber(name: string, value: unknown): void {
  const problem = checks.queue(value);
  if (problem) throw new InvalidOptionError(name, problem);
}

/** Checks the options of `queueStats`: `netns` and `owners`. @internal */
export function validateQueueStatsOptions(options: unknown): asserts options is { netns?: string; owners?: boolean } {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', `must be an object such as { netns: 'lab' }, got ${describe(options)}`);
  }
  const statsChecks: Record<string, Check> = { netns: checks.netns, owners: boolean };
  for (const [name, value] of Object.entries(options)) {
    const check = Object.hasOwn(statsChecks, name) ? statsChecks[name] : undefined;
    if (!check) throw new InvalidOptionError(name, 'is not an option of queueStats (known: netns, owners)');
    const problem = value === undefined ? undefined : check(value);
    if (problem) throw new InvalidOptionError(name, problem);
  }
}

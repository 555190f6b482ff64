/**
 * Policies of `nf-queue --handler FILE`: a module whose default export decides each packet's
 * verdict. It is loaded with a dynamic `import()`, so whatever the runtime imports works (a
 * `.ts` file where the runtime strips types: Node 22.18+, Bun, Deno); nothing is transpiled here.
 *
 * The contract:
 * - `export default (packet) => verdict`, sync or async (`packet` is `@nfq/nfqueue`'s Packet).
 *   The verdict is `'accept'`, `'drop'`, `'repeat'` or `'stop'`; or `{ accept: changes }`,
 *   `{ repeat: changes }`, `{ stop: changes }` (changes as Packet.accept takes them: `mark`,
 *   `connmark`...), `{ drop: {} }`, `{ queue: N, bypass?: boolean }`; or nothing (undefined),
 *   when the handler gave the verdict itself (`packet.accept()`...) before returning or resolving.
 * - Anything else, a throw or a rejection is a handler error: the packet gets the default verdict
 *   (`--verdict`), and the error is counted.
 * - `export async function setup(context)` (optional) runs before the queue is bound, and again
 *   after each reload; its {@link PolicyContext} says which queue this copy serves.
 */
import type { Packet, RequeueOptions } from '@nfq/nfqueue';
import type { CliVerdict, QueueBalance } from './args.js';

/** What a policy's `setup` export is given. */
export interface PolicyContext {
  /** The queue this copy of the policy serves (with `--queue-balance`, each worker has its own copy). */
  readonly queue: number;
  /** The range of `--queue-balance A:B`, or undefined when one queue is served. */
  readonly queueBalance: QueueBalance | undefined;
  /** The default verdict (`--verdict`): what a packet gets when the handler fails. */
  readonly defaultVerdict: CliVerdict;
  /** The network namespace of `--netns`, or undefined. */
  readonly netns: string | undefined;
  /** 0 at the first load, then 1, 2... at each reload (SIGHUP). */
  readonly reload: number;
}

/** A policy's default export. */
export type PolicyHandler = (packet: Packet) => unknown;

/** A policy module's default export returned something that is not a verdict. */
export class PolicyResultError extends TypeError {}

const BYPASS: RequeueOptions = Object.freeze({ bypass: true });
const VERDICT_FORMS = "'accept', 'drop', 'repeat', 'stop', { accept: { mark } }, { drop: {} }, { queue: N }";

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

function notAVerdict(result: unknown, why = ''): PolicyResultError {
  return new PolicyResultError(`the policy returned ${describeValue(result)}${why}, which is not a verdict (${VERDICT_FORMS}, or nothing after packet.accept()...)`);
}

/** The changes of an object verdict (`{ accept: changes }`): an object, or undefined. */
function changesOf(result: object, value: unknown): object | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw notAVerdict(result);
  return value;
}

/** Gives an object verdict; throws (before any verdict) when it is not one. */
function giveObjectVerdict(packet: Packet, result: Record<string, unknown>): void {
  let verdict: string | undefined;
  for (const key in result) {
    if (key === 'accept' || key === 'drop' || key === 'repeat' || key === 'stop' || key === 'queue') {
      if (verdict !== undefined) throw notAVerdict(result, ` (both ${verdict} and ${key})`);
      verdict = key;
    } else if (key !== 'bypass') {
      throw notAVerdict(result, ` (unknown key ${key})`);
    }
  }
  if (verdict !== 'queue' && 'bypass' in result) throw notAVerdict(result, ' (bypass goes with queue)');
  switch (verdict) {
    case 'accept':
      packet.accept(changesOf(result, result.accept));
      return;
    case 'repeat':
      packet.repeat(changesOf(result, result.repeat));
      return;
    case 'stop':
      packet.stop(changesOf(result, result.stop));
      return;
    case 'drop': {
      const changes = changesOf(result, result.drop);
      if (changes !== undefined) for (const _ in changes) throw notAVerdict(result, ' (a dropped packet takes no changes)');
      packet.drop();
      return;
    }
    case 'queue': {
      const bypass = result.bypass;
      if (bypass !== undefined && typeof bypass !== 'boolean') throw notAVerdict(result, ' (bypass must be true or false)');
      packet.queue(result.queue as number, bypass === true ? BYPASS : undefined);
      return;
    }
    default:
      throw notAVerdict(result);
  }
}

/**
 * Gives `packet` the verdict a policy returned (see the module comment); throws
 * {@link PolicyResultError} when `result` is not a verdict, or the packet's own error when the
 * verdict is refused (a bad mark, a verdict already given).
 */
export function giveReturnedVerdict(packet: Packet, result: unknown): void {
  switch (result) {
    case undefined:
      if (!packet.hasVerdict) throw new PolicyResultError('the policy returned nothing and gave the packet no verdict');
      return;
    case 'accept':
      packet.accept();
      return;
    case 'drop':
      packet.drop();
      return;
    case 'repeat':
      packet.repeat();
      return;
    case 'stop':
      packet.stop();
      return;
  }
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    giveObjectVerdict(packet, result as Record<string, unknown>);
    return;
  }
  throw notAVerdict(result);
}

/**
 * Runs `handler` on `packet` and gives the verdict it returns. Undefined when that is done;
 * a promise for an async handler, which rejects on a handler error; throws on a sync one.
 */
export function applyPolicy(handler: PolicyHandler, packet: Packet): Promise<void> | undefined {
  const result = handler(packet);
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    return Promise.resolve(result as PromiseLike<unknown>).then((value) => giveReturnedVerdict(packet, value));
  }
  giveReturnedVerdict(packet, result);
  return undefined;
}

/**
 * The verdict giver of a run: `(packet) => ...` gives the packet its verdict with `policy`'s
 * handler when there is one (else with `fixedVerdict`) and calls `counted` once the verdict is
 * given, or failed (a sync failure is thrown, an async one rejects: the queue then gives the
 * default verdict). Its result is what the queue's 'packet' listener returns.
 */
export function verdictServer(
  policy: Policy | undefined,
  fixedVerdict: (packet: Packet) => void,
  counted: () => void,
): (packet: Packet) => Promise<void> | undefined {
  if (policy === undefined) {
    return (packet) => {
      fixedVerdict(packet);
      counted();
      return undefined;
    };
  }
  const countedThenRethrow = (error: unknown): never => {
    counted();
    throw error;
  };
  return (packet) => {
    let pending: Promise<void> | undefined;
    try {
      pending = applyPolicy(policy.handler, packet);
    } finally {
      if (pending === undefined) counted(); // given, or a handler error the queue answers with the default verdict
    }
    return pending?.then(counted, countedThenRethrow);
  };
}

/** A policy that could not be loaded (or reloaded): its message names the file and says why. */
export class PolicyLoadError extends Error {}

/**
 * Imports the policy at `url` (a `file:` URL; `name` is how the user gave it) and awaits its
 * `setup(context)`. A reload (`context.reload` > 0) imports `url?reload=N`: a fresh copy of the
 * module itself (the modules it imports stay cached). Rejects with {@link PolicyLoadError}.
 */
export async function loadPolicy(url: string, name: string, context: PolicyContext): Promise<PolicyHandler> {
  const specifier = context.reload === 0 ? url : `${url}${url.includes('?') ? '&' : '?'}reload=${context.reload}`;
  const fail = (what: string, error?: unknown): PolicyLoadError =>
    new PolicyLoadError(`the policy ${name} ${what}${error === undefined ? '' : `: ${(error as Error)?.message ?? String(error)}`}`, { cause: error });
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw fail('could not be loaded', error);
  }
  if (typeof module.default !== 'function') {
    throw fail(`has no default export function (packet) => verdict (its default export is ${module.default === undefined ? 'missing' : typeof module.default})`);
  }
  if (module.setup !== undefined) {
    if (typeof module.setup !== 'function') throw fail(`exports a setup that is not a function (a ${typeof module.setup})`);
    try {
      await (module.setup as (context: PolicyContext) => unknown)(context);
    } catch (error) {
      throw fail('failed in setup(context)', error);
    }
  }
  return module.default as PolicyHandler;
}

/**
 * A loaded policy: its {@link handler}, and {@link reload} (SIGHUP), which swaps it for a fresh
 * import only once that import and its `setup` succeeded.
 */
export class Policy {
  #reloads = 0;
  #reloading: Promise<void> = Promise.resolve();

  private constructor(
    /** The policy's default export, now. */
    public handler: PolicyHandler,
    private readonly url: string,
    /** The file as the user named it. */
    readonly name: string,
    private readonly context: Omit<PolicyContext, 'reload'>,
  ) {}

  /** Loads the policy at `url` (see {@link loadPolicy}) for the queue of `context`. */
  static async load(url: string, name: string, context: Omit<PolicyContext, 'reload'>): Promise<Policy> {
    return new Policy(await loadPolicy(url, name, { ...context, reload: 0 }), url, name, context);
  }

  /** Imports the file again and runs its `setup`; rejects (keeping the running handler) when that fails. One reload at a time. */
  reload(): Promise<void> {
    const reloading = this.#reloading.then(async () => {
      const reload = ++this.#reloads;
      this.handler = await loadPolicy(this.url, this.name, { ...this.context, reload });
    });
    this.#reloading = reloading.catch(() => undefined);
    return reloading;
  }
}

/** The line `nf-queue` prints for the first handler error of a policy (later ones are only counted). */
export function firstHandlerErrorLine(description: string): string {
  return `${description} (further handler errors are counted in the summary, not printed)`;
}

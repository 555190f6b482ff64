/**
 * `--rule`: the iptables rule that sends packets to the queue, added after binding and deleted
 * on every kind of exit.
 *
 * The rule is added and deleted by a small keeper process (`rule-keeper.ts`), started while
 * `nf-queue` still has its privileges: it keeps them after `--user` dropped ours (iptables and
 * `ip netns exec` need more than CAP_NET_ADMIN), it is in its own process group (a Ctrl-C on
 * the terminal does not reach it), and it deletes the rule when `nf-queue` asks or when its
 * standard input closes: even when `nf-queue` is killed with SIGKILL or crashes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { QueueBalance } from './args.js';

/** The rule to add: chain and matches (as given to `--rule`), and where the packets go. */
export interface RuleSpec {
  /** Chain and matches, split into words, e.g. `['OUTPUT', '-p', 'udp', '--dport', '53']`. */
  readonly words: readonly string[];
  /** The queue (`--queue-num`), when not a range. */
  readonly queue: number;
  /** The range (`--queue-balance A:B`), instead of `queue`. */
  readonly queueBalance?: QueueBalance | undefined;
  /** The network namespace (a name under /var/run/netns, or a path) to add the rule in. */
  readonly netns?: string | undefined;
}

/** A rule that was added: delete it with {@link AddedRule.remove}. */
export interface AddedRule {
  /** The iptables command line that added it, for messages. */
  readonly description: string;
  /** Deletes the rule (`iptables -D` with the same spec); rejects with the reason when that fails. Idempotent. */
  remove(): Promise<void>;
}

/**
 * The command (program first) that adds (`-A`) or deletes (`-D`) the rule: `iptables -w ...`,
 * run through `ip netns exec NAME` for a named namespace or `nsenter --net=PATH` for a path.
 *
 * ```ts
 * iptablesCommand('-A', { words: ['OUTPUT', '-p', 'udp'], queue: 3, netns: 'lab' });
 * // ['ip', 'netns', 'exec', 'lab', 'iptables', '-w', '-A', 'OUTPUT', '-p', 'udp', '-j', 'NFQUEUE', '--queue-num', '3', '--queue-bypass']
 * ```
 */
export function iptablesCommand(action: '-A' | '-D', spec: RuleSpec): string[] {
  const target = spec.queueBalance
    ? ['-j', 'NFQUEUE', '--queue-balance', `${spec.queueBalance.from}:${spec.queueBalance.to}`, '--queue-bypass']
    : ['-j', 'NFQUEUE', '--queue-num', String(spec.queue), '--queue-bypass'];
  const iptables = ['iptables', '-w', action, ...spec.words, ...target];
  if (spec.netns === undefined) return iptables;
  if (spec.netns.includes('/')) return ['nsenter', `--net=${spec.netns}`, ...iptables];
  return ['ip', 'netns', 'exec', spec.netns, ...iptables];
}

/** What the keeper process says on its standard output, one JSON object per line. @internal */
export type KeeperReport = { event: 'added' } | { event: 'removed' } | { event: 'failed'; step: 'add' | 'remove'; message: string };

/** The keeper's arguments: the add and delete commands. @internal */
export interface KeeperSetup {
  add: string[];
  remove: string[];
}

const keeperPath = fileURLToPath(new URL('./rule-keeper.js', import.meta.url));

/**
 * Adds the rule through a keeper process (see the module comment) and resolves once it is in
 * place; rejects with iptables's own message when it could not be added.
 */
export function addRule(spec: RuleSpec): Promise<AddedRule> {
  const setup: KeeperSetup = { add: iptablesCommand('-A', spec), remove: iptablesCommand('-D', spec) };
  const keeper = spawn(process.execPath, [keeperPath, JSON.stringify(setup)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
  });
  const reports: KeeperReport[] = [];
  const waiting: Array<(report: KeeperReport | undefined) => void> = [];
  let buffered = '';
  keeper.stdout.setEncoding('utf8');
  keeper.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const report = JSON.parse(buffered.slice(0, end)) as KeeperReport;
      buffered = buffered.slice(end + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(report);
      else reports.push(report);
    }
  });
  let exited = false;
  keeper.once('exit', () => {
    exited = true;
    for (const waiter of waiting.splice(0)) waiter(undefined);
  });
  keeper.once('error', () => {
    exited = true;
    for (const waiter of waiting.splice(0)) waiter(undefined);
  });
  const next = (): Promise<KeeperReport | undefined> =>
    reports.length > 0 ? Promise.resolve(reports.shift()) : exited ? Promise.resolve(undefined) : new Promise((resolve) => waiting.push(resolve));
  const description = setup.add.join(' ');
  return next().then((report) => {
    if (report?.event !== 'added') {
      keeper.stdin.end();
      const reason = report?.event === 'failed' ? report.message : 'the rule keeper process ended early';
      throw new Error(`cannot add the rule (${description}): ${reason}`);
    }
    let removed: Promise<void> | undefined;
    return {
      description,
      remove() {
        removed ??= (async () => {
          keeper.stdin.end('remove\n');
          const answer = await next();
          if (answer?.event === 'failed') throw new Error(`cannot delete the rule (${setup.remove.join(' ')}): ${answer.message}`);
          if (answer?.event !== 'removed') throw new Error(`cannot delete the rule (${setup.remove.join(' ')}): the rule keeper process ended early`);
        })();
        return removed;
      },
    };
  });
}

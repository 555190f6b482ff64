/**
 * The keeper of a `--rule` (run as a child process by `rule.ts`, not imported): adds the
 * iptables rule, says so, and deletes it when `nf-queue` asks (a line on standard input) or when
 * standard input closes because `nf-queue` ended in any way (SIGKILL and crashes included).
 * It ignores SIGINT, SIGTERM and SIGHUP: the rule must outlive nothing but `nf-queue` itself.
 *
 * Argument: the JSON of a {@link KeeperSetup}. Output: one JSON {@link KeeperReport} per line.
 */
import { execFile } from 'node:child_process';
import type { KeeperReport, KeeperSetup } from './rule.js';

const setup = JSON.parse(process.argv[2] ?? '{}') as KeeperSetup;
const report = (message: KeeperReport): boolean => process.stdout.write(`${JSON.stringify(message)}\n`);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});

/** Runs a command; resolves with its error output when it failed, undefined when it worked. */
function run(command: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command[0]!, command.slice(1), (error, _stdout, stderr) => {
      if (!error) resolve(undefined);
      else resolve(stderr.trim().split('\n').filter(Boolean).join('; ') || error.message);
    });
  });
}

const failure = await run(setup.add);
if (failure !== undefined) {
  report({ event: 'failed', step: 'add', message: failure });
  process.exit(1);
}
report({ event: 'added' });

let removing = false;
const remove = async (): Promise<void> => {
  if (removing) return;
  removing = true;
  const problem = await run(setup.remove);
  // After SIGKILL of nf-queue nobody reads this; a write to a closed pipe must not matter.
  process.stdout.on('error', () => {});
  report(problem === undefined ? { event: 'removed' } : { event: 'failed', step: 'remove', message: problem });
  process.exitCode = problem === undefined ? 0 : 1;
  process.stdin.destroy();
};
process.stdin.on('data', () => void remove());
process.stdin.on('end', () => void remove());
process.stdin.on('error', () => void remove());
process.stdin.on('close', () => void remove());

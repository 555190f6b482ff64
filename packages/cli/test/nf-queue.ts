/** Running the real `bin/nf-queue.js` in the kernel tests of this package. */
import { fileURLToPath } from 'node:url';
import { type CommandResult, type RunOptions, type StartOptions, type Started, runResult, startProcess, waitBound } from '@nfq/test-kit';

/** The command, as users run it (it runs dist/: build first). */
export const bin = fileURLToPath(new URL('../bin/nf-queue.js', import.meta.url));

/** The UDP port the kernel tests send to and queue. */
export const PORT = 9999;

/** Starts `nf-queue ARGS` on this Node.js (`options.bin`: another copy of the command, e.g. an installed one). */
export function startCli(args: readonly string[], options: StartOptions & { bin?: string } = {}): Started {
  return startProcess(process.execPath, [options.bin ?? bin, ...args], options);
}

/** Runs `nf-queue ARGS` to its end (15 s at most unless `options.timeout`); resolves with its status and output. */
export function nfQueue(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return runResult(process.execPath, [bin, ...args], { timeout: 15_000, ...options });
}

/** Waits until `cli` has bound every queue of `queues` in `ns`. */
export function waitCliBound(ns: string, cli: Started, ...queues: number[]): Promise<void> {
  return waitBound(ns, queues, () => cli.stderr());
}

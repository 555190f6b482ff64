// What every example shares: its command line, and closing the queue on Ctrl-C or SIGTERM (every
// packet still held gets its verdict, the queue is unbound). Copy it along with an example.
import { parseArgs } from 'node:util';

/**
 * Reads `--queue N` (default 0), `--netns NAME` and the example's own `options` (as for
 * node:util parseArgs) from the command line; prints `usage` and exits 2 on a mistake.
 */
export function exampleArgs(usage, options = {}) {
  try {
    const { values } = parseArgs({ options: { queue: { type: 'string', default: '0' }, netns: { type: 'string' }, ...options } });
    const queue = Number(values.queue);
    if (!Number.isInteger(queue) || queue < 0 || queue > 65535) throw new Error(`--queue must be 0..65535, got '${values.queue}'`);
    return { ...values, queue };
  } catch (error) {
    console.error(`${error.message}\nusage: ${usage}`);
    process.exit(2);
  }
}

/** Closes `queue` (or range) gracefully on SIGINT and SIGTERM, then runs `atExit` and exits 0. */
export function closeOnSignal(queue, atExit = () => {}) {
  const stop = () => {
    queue.close().then(() => {
      atExit();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

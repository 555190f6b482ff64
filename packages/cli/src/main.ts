import { type Queue, type QueueOptions, openQueue } from '@nfq/nfqueue';
import { type CliOptions, USAGE, parseCommandLine } from './args.js';
import { formatPacketLine } from './format.js';

/** Exit status for a bad command line. */
export const EXIT_USAGE = 2;
/** Exit status when the queue cannot be opened. */
export const EXIT_OPEN_FAILED = 1;

/** What the command talks to; tests replace it. */
export interface CliEnvironment {
  /** Opens a queue (normally `@nfq/nfqueue`'s openQueue). */
  openQueue(options: QueueOptions): Promise<Queue>;
  /** Writes one line to standard output. */
  printLine(line: string): void;
  /** Writes one line to standard error. */
  printError(line: string): void;
  /** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening. */
  onTerminationSignal(handler: () => void): () => void;
}

/** The environment of a real run: the real binding, process streams and signals. */
export function processEnvironment(): CliEnvironment {
  return {
    openQueue: (options) => openQueue(options),
    printLine: (line) => process.stdout.write(`${line}\n`),
    printError: (line) => process.stderr.write(`${line}\n`),
    onTerminationSignal(handler) {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
  };
}

function describeOpenError(error: unknown, options: CliOptions): string {
  const failure = error as Error & { code?: string; kind?: string };
  const labels = [failure.code, failure.kind].filter(
    (label): label is string => typeof label === 'string' && !failure.message.includes(label),
  );
  const suffix = labels.length > 0 ? ` [${labels.join('/')}]` : '';
  return `nf-queue: cannot bind queue ${options.queue}: ${failure.message}${suffix}`;
}

/**
 * Runs `nf-queue` with `argv` (without node and script paths); resolves with the exit status.
 * A bad command line is refused with one line on stderr and status 2 before any socket opens.
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
  let queue: Queue;
  try {
    queue = await environment.openQueue({
      queue: options.queue,
      copyMode: 'packet',
      gso: true,
      ...(options.netns !== undefined ? { netns: options.netns } : {}),
    });
  } catch (error) {
    environment.printError(describeOpenError(error, options));
    return EXIT_OPEN_FAILED;
  }
  const closed = new Promise<void>((resolve) => queue.once('close', resolve));
  const stopListening = environment.onTerminationSignal(() => void queue.close());
  queue.on('error', (error) => environment.printError(`nf-queue: ${error.message}`));
  let verdicts = 0;
  queue.on('packet', (packet) => {
    if (options.count !== undefined && verdicts >= options.count) return; // the rest get the default on close
    if (!options.quiet) environment.printLine(formatPacketLine(packet));
    packet.accept();
    verdicts++;
    if (options.count !== undefined && verdicts >= options.count) void queue.close();
  });
  await closed;
  stopListening();
  return 0;
}

/** `runCli`: one run of `nf-queue`, from the command line to the summary and the exit status. */
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { USAGE, parseCommandLine } from './args.js';
import { describeError } from './describe-error.js';
import { type CliEnvironment, type PacketRecorder, processEnvironment } from './environment.js';
import { formatSummary } from './format.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { Policy } from './policy.js';
import { serveQueue } from './queue-session.js';
import { queueOptionsOf } from './queue-options.js';
import { openRange } from './range-session.js';
import type { AddedRule } from './rule.js';
import { serveSettings } from './serve.js';
import type { Session } from './session.js';
import { StatusLine } from './status-line.js';

/** Exit status for a bad command line. */
export const EXIT_USAGE = 2;
/** Exit status when the queue cannot be opened (or the run fails). */
export const EXIT_OPEN_FAILED = 1;
/** How long, at the end of a run, standard output's reader gets to take what is held: 2 s. */
export const STDOUT_CLOSE_DEADLINE_MS = 2000;

/**
 * Runs `nf-queue` with `argv` (without node and script paths); resolves with the exit status:
 * 0 after a graceful end (`--count` reached, SIGINT, SIGTERM, SIGHUP unless it reloads the `--handler`
 * policy, stdout's reader closed it),
 * 1 when it could not run or an output failed (no CAP_NET_ADMIN, queue taken, rule refused, a
 * write error on stdout or the pcap file...), 2 for a bad command line, refused with one line on
 * stderr before any socket opens. Every way out gives every held packet its verdict first.
 */
export async function runCli(argv: readonly string[], environment: CliEnvironment = processEnvironment()): Promise<number> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.kind === 'help') {
    environment.printLine(USAGE);
    return 0;
  }
  if (commandLine.kind === 'version') {
    environment.printLine(`nf-queue ${cliVersion()}`);
    return 0;
  }
  if (commandLine.kind === 'error') {
    environment.printError(`nf-queue: ${commandLine.message} (see nf-queue --help)`);
    return EXIT_USAGE;
  }
  const options = commandLine.options;
  const settings = serveSettings(options);

  // From here on a signal ends the run gracefully, whatever stage it reaches.
  let stopReason: string | undefined;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const opening = new AbortController();
  const stop = (reason: string): void => {
    stopReason ??= reason;
    opening.abort();
    wake?.();
  };
  let session: Session | undefined;
  // With a policy, SIGHUP reloads it (one reload after the other) instead of ending the run.
  let reloading = Promise.resolve();
  const stopListening = environment.onTerminationSignal((signal) => {
    if (signal === 'SIGHUP' && options.handler !== undefined) reloading = reloading.then(() => session?.reloadPolicy?.());
    else stop(signal);
  });

  let recorder: PacketRecorder | undefined;
  let rule: AddedRule | undefined;
  let status: StatusLine | undefined;
  let metricsServer: MetricsServer | undefined;
  let exitCode = 0;
  // An output fault ends the run as a signal does (every packet gets its verdict, then the
  // summary): a closed stdout (EPIPE, as `nf-queue | head`) quietly with 0, as tcpdump; any other
  // write error with one line naming what failed, and 1.
  environment.onStdoutError((error) => {
    session?.served.stopOutput('stdout');
    if (error.code !== 'EPIPE') {
      environment.printError(`nf-queue: cannot write to standard output: ${error.message}`);
      exitCode = EXIT_OPEN_FAILED;
    }
    stop('stdout');
  });
  try {
    try {
      if (options.pcap !== undefined) {
        const path = options.pcap;
        try {
          recorder = await environment.openPcap(path, {
            signal: opening.signal,
            onWaitingForReader: () => environment.printError(`nf-queue: ${path} is a FIFO that nobody reads yet: waiting for a reader (Ctrl-C to give up)`),
          });
        } catch (error) {
          if (!opening.signal.aborted) throw error;
          environment.printError(`nf-queue: nobody opened ${path} for reading; stopped (${stopReason}) before binding`);
          return exitCode;
        }
        recorder.onError((error) => {
          session?.served.stopOutput('pcap');
          if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
            environment.printError(`nf-queue: the reader of ${path} closed it; stopping`);
          } else {
            environment.printError(`nf-queue: cannot write the pcap file ${path}: ${error.message}`);
            exitCode = EXIT_OPEN_FAILED;
          }
          stop('pcap');
        });
      }
      const print = (text: string, lines = 1): void => {
        status?.beforePacketLines();
        environment.printLine(text, lines);
      };
      if (options.queueBalance) {
        session = await openRange(options, options.handler === undefined ? undefined : policyUrl(options.handler), settings, print, recorder, stop, environment);
      } else {
        // The policy is loaded, and its setup done, before the queue is bound.
        const policy =
          options.handler === undefined
            ? undefined
            : await Policy.load(policyUrl(options.handler), options.handler, {
                queue: options.queue,
                queueBalance: undefined,
                defaultVerdict: options.verdict,
                netns: options.netns,
              });
        const queue = await environment.openQueue({ queue: options.queue, ...queueOptionsOf(options) });
        // The receiving thread took --nice itself (readerNice); the main thread (the same one, unless
        // --reader-thread) gets it too.
        if (options.nice !== undefined) setPriority(options.nice);
        session = serveQueue(queue, options, settings, print, recorder, stop, environment, policy);
      }
      if (options.metrics !== undefined) {
        const served = session.served;
        metricsServer = await startMetricsServer(options.metrics, () => served.metrics());
      }
      const started = environment.now();
      if (options.rule !== undefined && stopReason === undefined) {
        rule = await environment.addRule({ words: options.rule, queue: options.queue, queueBalance: options.queueBalance, netns: options.netns });
      }
      if (options.user !== undefined) await session.dropPrivileges(options.user);
      if (environment.stderrIsTerminal && !options.quiet) status = new StatusLine(environment, session.served);
      await stopped;
      status?.stop();
      // The rule goes first: then no new packet is queued to a queue about to unbind.
      if (rule) {
        const added = rule;
        rule = undefined;
        await added.remove().catch((error: unknown) => {
          environment.printError(describeError(error));
          exitCode = EXIT_OPEN_FAILED;
        });
      }
      const served = session.served;
      const final = await served.close();
      session = undefined;
      const seconds = (environment.now() - started) / 1000;
      // The file is complete (or given up on at its deadline), and stdout too, before the summary counts what is missing.
      const [linesGivenUp] = await Promise.all([environment.finishOutput(STDOUT_CLOSE_DEADLINE_MS), recorder?.close()]);
      const dropped = served.outputDropped();
      environment.printError(
        formatSummary(final.counters, seconds, {
          kernelDrops: final.kernelDrops,
          linesDropped: environment.stdoutDropped() + dropped.lines + linesGivenUp,
          pcap: recorder && options.pcap !== undefined ? { path: options.pcap, dropped: recorder.dropped + dropped.records, lost: recorder.lost } : undefined,
        }),
      );
    } catch (error) {
      status?.stop();
      environment.printError(describeError(error));
      exitCode = EXIT_OPEN_FAILED;
    }
  } finally {
    // Whatever happened: every held packet gets its verdict, the rule goes, the file is complete.
    if (session) await session.served.close().catch(() => undefined);
    await metricsServer?.close();
    if (rule) {
      await rule.remove().catch((error: unknown) => {
        environment.printError(describeError(error));
        exitCode = EXIT_OPEN_FAILED;
      });
    }
    await recorder?.close();
    stopListening();
  }
  return exitCode;
}

/** The `file:` URL of the `--handler` file (a path relative to the current directory, or a URL). */
export function policyUrl(handler: string): string {
  return /^[a-z][a-z0-9+.-]+:/i.test(handler) ? handler : pathToFileURL(resolvePath(handler)).href;
}

/** The version of this package (its package.json, next to dist/ and src/). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

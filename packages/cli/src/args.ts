import { parseArgs } from 'node:util';

/** Usage text of `nf-queue`. */
export const USAGE = `Usage: nf-queue [--count N] [--quiet] [--netns NAME] [QUEUE]

Binds NFQUEUE queue QUEUE (default 0), prints one line per packet and accepts it.

  -c, --count N     exit after N verdicts
  -q, --quiet       print nothing per packet
  -n, --netns NAME  bind in network namespace NAME (under /var/run/netns) or at a path
  -h, --help        print this help`;

/** What the command line asks for. */
export interface CliOptions {
  /** Queue number to bind. */
  queue: number;
  /** Exit after this many verdicts; undefined to run until interrupted. */
  count: number | undefined;
  /** Print nothing per packet. */
  quiet: boolean;
  /** Network namespace to bind in. */
  netns: string | undefined;
}

/** The parsed command line: run, print help, or refuse with one line of explanation. */
export type ParsedCommandLine =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

function parseInteger(text: string, name: string, minimum: number, maximum: number): number | string {
  if (!/^\d+$/.test(text)) return `${name} must be a whole number, got '${text}'`;
  const value = Number(text);
  if (value < minimum || value > maximum) return `${name} must be from ${minimum} to ${maximum}, got ${value}`;
  return value;
}

/** Parses `nf-queue`'s arguments (without the node and script paths). Never throws. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        count: { type: 'string', short: 'c' },
        quiet: { type: 'boolean', short: 'q', default: false },
        netns: { type: 'string', short: 'n' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    // Keep node's first sentence ("Unknown option '--x'"), not its advice on positionals.
    const message = (error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    return { kind: 'error', message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length > 1) {
    return { kind: 'error', message: `expected at most one QUEUE number, got ${positionals.length} arguments` };
  }
  const queue = positionals.length === 1 ? parseInteger(positionals[0]!, 'QUEUE', 0, 65535) : 0;
  if (typeof queue === 'string') return { kind: 'error', message: queue };
  let count: number | undefined;
  if (values.count !== undefined) {
    const parsedCount = parseInteger(values.count, '--count', 1, Number.MAX_SAFE_INTEGER);
    if (typeof parsedCount === 'string') return { kind: 'error', message: parsedCount };
    count = parsedCount;
  }
  if (values.netns !== undefined && values.netns.length === 0) {
    return { kind: 'error', message: '--netns needs a namespace name or path' };
  }
  return { kind: 'run', options: { queue, count, quiet: values.quiet ?? false, netns: values.netns } };
}

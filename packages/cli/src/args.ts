import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { QUEUE_OPTION_LIMITS as LIMITS } from '@nfq/nfqueue';

/** Usage text of `nf-queue` (its `--help`). */
export const USAGE = `Usage: nf-queue [options] [QUEUE]
       nf-queue stats|doctor|demo [options]   (see nf-queue COMMAND --help)

Binds NFQUEUE queue QUEUE (default 0), prints one line per packet, as libnetfilter_queue's
examples/nf-queue.c does, and gives each packet a verdict (accept unless told otherwise).
On exit (--count reached, Ctrl-C, SIGTERM) every held packet gets its verdict, the queue is
unbound and one summary line goes to stderr; so too when stdout's reader closes it (exit 0) or an
output fails (exit 1). Exit status: 0 done, 1 could not run or an output failed, 2 bad usage.

Verdicts:
      --verdict accept|drop  the verdict for every packet (default accept)
      --mark N               set the packet mark with the verdict (u32; decimal or 0x hex)
      --connmark N           set the connection mark with the verdict (u32)
  -c, --count N              exit after N verdicts; packets of the same batch beyond N get
                             the default verdict (accept) at close and count in the summary
      --handler FILE         let the policy module FILE decide (.mjs, .js; .ts where the runtime
                             strips types): its default export (packet) => 'accept' | 'drop' |
                             'repeat' | 'stop' | { accept: { mark, connmark } } | { queue: N }, or
                             nothing once it called packet.accept() etc.; sync or async. Its
                             optional setup(context) runs before binding. A handler that throws or
                             returns no verdict: the packet gets --verdict (the default verdict),
                             the summary counts it, the first such error is printed. SIGHUP
                             reloads FILE (a failed reload keeps the running policy)

Output (stdout; the summary and errors go to stderr):
  -q, --quiet                no per-packet lines
  -j, --json                 one JSON object per packet per line (id, hook and every attribute
                             present; payload as hex; the verdict given, with verdictMark and
                             verdictConnmark when set, except with --handler, whose policy
                             decides after the line is printed) instead of the nf-queue.c line;
                             not with --quiet (that combination is refused)
  -n                         accepted as in tcpdump (do not resolve names); nf-queue resolves none
  -r FILE                    refused: nf-queue captures live and reads no files (tcpdump -r)
  -w, --pcap FILE            also write every packet to FILE in pcap format (raw IP, link type
                             101), readable by tcpdump -r and Wireshark, stamped with the kernel's
                             receive time (NFQA_TIMESTAMP) or, without one, the time nf-queue took
                             the packet; a FIFO waits for its reader
  Output never holds up verdicts: what a slow stdout or FILE cannot take is dropped and counted
  in the summary.
  On a terminal, a status line on stderr shows packets/s, totals, overruns and kernel drops
  (refreshed every 500 ms, kept below the packet lines when they go to the same terminal; never
  when stderr is not a terminal, never with --quiet).

Queue:
      --copy-mode meta|packet  what the kernel copies (default packet; meta: metadata only)
      --copy-range N         copy at most N bytes of each packet (${LIMITS.copyRange.min}..${LIMITS.copyRange.max}, default ${LIMITS.copyRange.max})
      --maxlen N             packets the kernel queue holds before it drops (kernel default 1024)
      --fail-open            accept packets, instead of dropping them, when the kernel queue is full
      --gso / --no-gso       receive GSO packets whole (default on, as nf-queue.c)
      --rcvbuf BYTES         socket receive buffer (suffix K, M or G allowed)
      --no-enobufs           do not report socket overruns (NETLINK_NO_ENOBUFS); the kernel still
                             drops, and counts, what does not fit
      --reader-thread        receive on a thread of its own instead of the main thread (which is
                             faster: see the benchmark); it keeps reading while output blocks
      --nice N               nice value (${LIMITS.readerNice.min}..${LIMITS.readerNice.max}; negative as --nice=-5) of the receiving and main
                             threads (below 0 needs CAP_SYS_NICE)
      --cpu LIST             run the receiving thread (the main thread, or the reader thread with
                             --reader-thread) on these CPUs only, e.g. 1 or 0,2-3 (keep it off the
                             cores that serve the NIC's interrupts)
      --queue-balance A:B    serve queues A to B, one worker thread per queue (instead of QUEUE;
                             for iptables -j NFQUEUE --queue-balance A:B)

Metrics:
      --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics (per queue: packets,
                             verdicts, default verdicts, overruns, kernel drops, waiting packets,
                             handler durations), e.g. --metrics 127.0.0.1:9400 or [::1]:9400;
                             the address is in this process's namespace, not --netns's

Environment:
      --netns NAME           bind in network namespace NAME (ip netns add NAME) or at a path
  -u, --user NAME            after binding, switch to user NAME keeping only CAP_NET_ADMIN
                             (which the kernel checks on every verdict), on every worker thread too
      --rule 'CHAIN MATCH...'
                             add \`iptables -A CHAIN MATCH... -j NFQUEUE --queue-num QUEUE --queue-bypass\`
                             (or --queue-balance A:B) after binding, in the queue's namespace,
                             and delete it on every kind of exit, e.g. --rule 'OUTPUT -p udp --dport 53'
                             (IPv4 iptables; give the table inside the rule: 'PREROUTING -t mangle ...')

Subcommands:
  stats [--netns NAME] [--json | --prometheus]
                                  the NFQUEUE queues bound on this host, from /proc
  doctor [--netns NAME] [--json]  what this machine can do with NFQUEUE, and what is missing
  demo                            NFQUEUE at work for a few seconds in a private namespace

  -h, --help                 print this help
      --version              print the version

Needs CAP_NET_ADMIN (root, or setpriv --inh-caps +net_admin --ambient-caps +net_admin nf-queue ...).`;

/** The fixed verdict `nf-queue` gives every packet. */
export type CliVerdict = 'accept' | 'drop';

/** A range of queues for `--queue-balance A:B` (both ends included). */
export interface QueueBalance {
  /** First queue. */
  readonly from: number;
  /** Last queue. */
  readonly to: number;
}

/** What the command line asks for. */
export interface CliOptions {
  /** Queue number to bind (the first of the range with `queueBalance`). */
  queue: number;
  /** Serve this range of queues, one worker thread each; undefined for the single `queue`. */
  queueBalance: QueueBalance | undefined;
  /** Exit after this many verdicts; undefined to run until interrupted. */
  count: number | undefined;
  /** Print nothing per packet. */
  quiet: boolean;
  /** Print one JSON object per packet instead of the nf-queue.c line. */
  json: boolean;
  /** Write the packets to this pcap file. */
  pcap: string | undefined;
  /** The verdict for every packet. */
  verdict: CliVerdict;
  /** Packet mark to set with each verdict. */
  mark: number | undefined;
  /** Connection mark to set with each verdict. */
  connmark: number | undefined;
  /** The policy module deciding each verdict (`--verdict` is then the default verdict); undefined for the fixed verdict. */
  handler: string | undefined;
  /** What the kernel copies. */
  copyMode: 'meta' | 'packet';
  /** Most payload bytes copied per packet; undefined for the library's default. */
  copyRange: number | undefined;
  /** Kernel queue length; undefined for the kernel's. */
  maxLen: number | undefined;
  /** NFQA_CFG_F_FAIL_OPEN. */
  failOpen: boolean;
  /** NFQA_CFG_F_GSO (on unless `--no-gso`). */
  gso: boolean;
  /** Socket receive buffer in bytes; undefined for the kernel's. */
  receiveBufferSize: number | undefined;
  /** NETLINK_NO_ENOBUFS. */
  noEnobufs: boolean;
  /** Receive on a reader thread instead of the main thread. */
  readerThread: boolean;
  /** Nice value for the receiving and main threads; undefined to leave it. */
  nice: number | undefined;
  /** CPUs the receiving thread may run on; undefined for any. */
  cpus: number[] | undefined;
  /** Network namespace to bind in. */
  netns: string | undefined;
  /** User to switch to after binding. */
  user: string | undefined;
  /** The iptables rule's chain and matches (split into words), without the target. */
  rule: readonly string[] | undefined;
  /** Where to serve Prometheus metrics (`--metrics HOST:PORT`). */
  metrics: MetricsAddress | undefined;
}

/** `--metrics HOST:PORT`: an IP address or host name (IPv6 in brackets) and a TCP port. */
export interface MetricsAddress {
  /** IP address or host name, IPv6 without its brackets. */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
}

/** A DNS host name (not all digits and dots: that would be a wrong IPv4 address). */
const HOST_NAME = /^(?![\d.]+$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text);
  const [, ipv6, other, portText] = match ?? [];
  const host = ipv6 ?? other;
  const port = Number(portText);
  const validHost = ipv6 !== undefined ? isIP(ipv6) === 6 : other !== undefined && (isIP(other) === 4 || HOST_NAME.test(other));
  if (!validHost || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--metrics must be HOST:PORT with a port from 1 to 65535, as in 127.0.0.1:9400 or [::1]:9400, got '${text}'`);
  }
  return { host: host!, port };
}

/** The parsed command line: run, print help, or refuse with one line of explanation. */
export type ParsedCommandLine =
  | { readonly kind: 'run'; readonly options: CliOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'error'; readonly message: string };

/** A one-line refusal, thrown inside the parser and turned into `{ kind: 'error' }`. */
class UsageError extends Error {}

/**
 * Reads an unsigned integer (decimal, or hex with `0x`; with `suffixes`, a trailing K, M or G
 * multiplies by 1024, 1024², 1024³) and checks it is within `minimum`..`maximum`.
 */
function parseNumber(text: string, name: string, minimum: number, maximum: number, suffixes = false): number {
  const match = /^(0x[0-9a-f]+|\d+)([kmg]?)$/i.exec(text.trim());
  if (!match || (match[2] !== '' && !suffixes)) {
    throw new UsageError(`${name} must be a whole number${suffixes ? ' (with K, M or G)' : ''}, got '${text}'`);
  }
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const value = Number(match[1]) * scale;
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new UsageError(`${name} must be from ${minimum} to ${maximum}, got ${text}`);
  }
  return value;
}

function oneOf<T extends string>(text: string, name: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`${name} must be ${allowed.join(', ').replace(/, ([^,]*)$/, ' or $1')}, got '${text}'`);
  }
  return text as T;
}

/**
 * Splits a rule into words as a shell would for simple cases: whitespace separates words,
 * single or double quotes keep spaces inside one (`-m comment --comment 'nf-queue test'`).
 */
export function splitRule(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of text) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote !== undefined) throw new UsageError(`--rule has an unclosed ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

function parseRule(text: string): string[] {
  const words = splitRule(text);
  if (words.length === 0 || words[0]!.startsWith('-')) {
    throw new UsageError(`--rule must start with a chain, as in --rule 'OUTPUT -p udp --dport 53', got '${text}'`);
  }
  const target = words.find((word) => ['-j', '--jump', '-g', '--goto', '-A', '-I', '-D', '--append', '--insert', '--delete'].includes(word));
  if (target !== undefined) {
    throw new UsageError(`--rule gives the chain and matches only; nf-queue adds the NFQUEUE target itself (remove '${target}')`);
  }
  return words;
}

function parseBalance(text: string): QueueBalance {
  const match = /^([^:]*):([^:]*)$/.exec(text);
  if (!match) throw new UsageError(`--queue-balance must be FROM:TO, as in 0:3, got '${text}'`);
  const from = parseNumber(match[1]!, '--queue-balance start', LIMITS.queue.min, LIMITS.queue.max);
  const to = parseNumber(match[2]!, '--queue-balance end', LIMITS.queue.min, LIMITS.queue.max);
  if (from > to) throw new UsageError(`--queue-balance starts after it ends (${from} > ${to})`);
  return { from, to };
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
        quiet: { type: 'boolean', short: 'q' },
        json: { type: 'boolean', short: 'j' },
        pcap: { type: 'string', short: 'w' },
        verdict: { type: 'string' },
        mark: { type: 'string' },
        connmark: { type: 'string' },
        handler: { type: 'string' },
        'copy-mode': { type: 'string' },
        'copy-range': { type: 'string' },
        maxlen: { type: 'string' },
        'fail-open': { type: 'boolean' },
        gso: { type: 'boolean' },
        'no-gso': { type: 'boolean' },
        rcvbuf: { type: 'string' },
        'no-enobufs': { type: 'boolean' },
        'reader-thread': { type: 'boolean' },
        nice: { type: 'string' },
        cpu: { type: 'string' },
        'queue-balance': { type: 'string' },
        netns: { type: 'string' },
        user: { type: 'string', short: 'u' },
        rule: { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        'no-resolve': { type: 'boolean', short: 'n' },
        'read-file': { type: 'string', short: 'r' },
      },
    });
  } catch (error) {
    // Keep node's first sentence ("Unknown option '--x'"), not its advice on positionals.
    let message = (error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    const ambiguous = /^Option '(--?[\w-]+)' argument is ambiguous\.?$/.exec(message);
    if (ambiguous) message = `${ambiguous[1]} needs a value; for one that starts with a dash write ${ambiguous[1]}=VALUE`;
    return { kind: 'error', message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (values['read-file'] !== undefined) {
    return { kind: 'error', message: 'nf-queue captures live and reads no files (tcpdump -r); write one with -w FILE, add a rule with --rule' };
  }
  try {
    return { kind: 'run', options: toOptions(values, positionals) };
  } catch (error) {
    if (error instanceof UsageError) return { kind: 'error', message: error.message };
    throw error;
  }
}

/** `--nice N`: -20..19 (a leading minus is allowed, unlike the other numbers). */
function parseNice(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--nice must be a whole number from ${LIMITS.readerNice.min} to ${LIMITS.readerNice.max}, got '${text}'`);
  const nice = Number(text);
  if (nice < LIMITS.readerNice.min || nice > LIMITS.readerNice.max) throw new UsageError(`--nice must be from ${LIMITS.readerNice.min} to ${LIMITS.readerNice.max}, got ${nice}`);
  return nice;
}

/** `--cpu LIST`: CPU numbers and ranges, `1` or `0,2-3`. */
function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!range) throw new UsageError(`--cpu takes CPU numbers and ranges such as 1 or 0,2-3, got '${text}'`);
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (first > last || last > LIMITS.readerCpus.max) throw new UsageError(`--cpu range '${part}' must go up, within ${LIMITS.readerCpus.min}..${LIMITS.readerCpus.max}`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus];
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function toOptions(values: Values, positionals: readonly string[]): CliOptions {
  const text = (name: string): string | undefined => values[name] as string | undefined;
  const flag = (name: string): boolean => values[name] === true;
  const number = (name: string, minimum: number, maximum: number, suffixes = false): number | undefined => {
    const given = text(name);
    return given === undefined ? undefined : parseNumber(given, `--${name}`, minimum, maximum, suffixes);
  };
  if (positionals.length > 1) throw new UsageError(`expected at most one QUEUE number, got ${positionals.length} arguments`);
  const queueBalance = text('queue-balance') === undefined ? undefined : parseBalance(text('queue-balance')!);
  if (queueBalance && positionals.length === 1) {
    throw new UsageError('give either a QUEUE or --queue-balance A:B, not both');
  }
  const queue = queueBalance?.from ?? (positionals.length === 1 ? parseNumber(positionals[0]!, 'QUEUE', LIMITS.queue.min, LIMITS.queue.max) : 0);
  if (flag('json') && flag('quiet')) {
    throw new UsageError('--json prints every packet and --quiet prints none: choose one');
  }
  if (flag('gso') && flag('no-gso')) throw new UsageError('--gso and --no-gso contradict each other: choose one');
  for (const name of ['netns', 'user', 'pcap']) {
    if (text(name) === '') throw new UsageError(`--${name} needs a ${name === 'pcap' ? 'file name' : name === 'user' ? 'user name' : 'namespace name or path'}`);
  }
  if (text('copy-mode') === 'none') {
    throw new UsageError("--copy-mode none makes the kernel queue nothing and drop every matched packet; use --copy-mode meta for metadata only");
  }
  const verdict = text('verdict') === undefined ? 'accept' : oneOf(text('verdict')!, '--verdict', ['accept', 'drop'] as const);
  if (verdict === 'drop' && (text('mark') !== undefined || text('connmark') !== undefined)) {
    throw new UsageError('--mark and --connmark go with --verdict accept: a dropped packet keeps no mark');
  }
  if (text('handler') === '') throw new UsageError('--handler needs a policy module file');
  if (text('handler') !== undefined && (text('mark') !== undefined || text('connmark') !== undefined)) {
    throw new UsageError('--mark and --connmark go with the fixed verdict; a --handler policy returns its marks ({ accept: { mark } })');
  }
  return {
    queue,
    queueBalance,
    count: number('count', 1, Number.MAX_SAFE_INTEGER),
    quiet: flag('quiet'),
    json: flag('json'),
    pcap: text('pcap'),
    verdict,
    mark: number('mark', 0, 0xffffffff),
    connmark: number('connmark', 0, 0xffffffff),
    handler: text('handler'),
    copyMode: text('copy-mode') === undefined ? 'packet' : oneOf(text('copy-mode')!, '--copy-mode', ['meta', 'packet'] as const),
    copyRange: number('copy-range', LIMITS.copyRange.min, LIMITS.copyRange.max),
    maxLen: number('maxlen', LIMITS.maxLen.min, LIMITS.maxLen.max),
    failOpen: flag('fail-open'),
    gso: !flag('no-gso'),
    receiveBufferSize: number('rcvbuf', LIMITS.receiveBufferSize.min, LIMITS.receiveBufferSize.max, true),
    noEnobufs: flag('no-enobufs'),
    readerThread: flag('reader-thread'),
    nice: text('nice') === undefined ? undefined : parseNice(text('nice')!),
    cpus: text('cpu') === undefined ? undefined : parseCpuList(text('cpu')!),
    netns: text('netns'),
    user: text('user'),
    rule: text('rule') === undefined ? undefined : parseRule(text('rule')!),
    metrics: text('metrics') === undefined ? undefined : parseMetricsAddress(text('metrics')!),
  };
}

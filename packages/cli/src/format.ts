/** Capacity of the kernel's hardware address field; longer lengths are printed as truncated. */
const HWADDR_CAPACITY = 8;

/** What one printed line is made of (a subset of `@nfq/nfqueue`'s `Packet`). */
export interface PacketSummary {
  /** Packet id. */
  readonly id: number;
  /** EtherType. */
  readonly hwProtocol: number;
  /** Hook number. */
  readonly hook: number;
  /** Payload (only its length is printed). */
  readonly payload: { readonly length: number };
  /** The payload is only the first part of the packet: cut by the copy range (NFQA_CAP_LEN differs from its length). */
  readonly cutByCopyRange: boolean;
  /** A GSO super-packet (NFQA_SKB_GSO). */
  readonly gso: boolean;
  /** Checksums not computed yet (NFQA_SKB_CSUMNOTREADY). */
  readonly checksumNotReady: boolean;
  /** Source hardware address. */
  readonly hwAddr?: Uint8Array | undefined;
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** The counters a summary or status line is made of: `@nfq/nfqueue`'s `Queue.stats()` (or a range's merged ones). */
export interface RunCounters {
  /** Packets received. */
  readonly received: number;
  /** Verdicts sent, by kind. */
  readonly verdicts: {
    readonly accept: number;
    readonly drop: number;
    readonly repeat?: number;
    readonly queue?: number;
    readonly stop?: number;
    readonly batch?: number;
  };
  /** Default verdicts, by cause (also counted in `verdicts`). */
  readonly defaultVerdicts?: {
    readonly handlerError?: number;
    readonly timeout?: number;
    readonly close?: number;
    readonly cutByReceiver?: number;
  };
  /** Socket overrun events (ENOBUFS): times the kernel told the socket lost packets; not a packet count. */
  readonly overruns: number;
}

/** Packets the kernel dropped for a queue (its line of /proc/net/netfilter/nfnetlink_queue). */
export interface KernelDrops {
  /** Dropped because the queue was full (`--maxlen`). */
  readonly queueFull: number;
  /** Dropped because the socket's receive buffer was full (the reader behind; `--rcvbuf`). */
  readonly socketFull: number;
}

/** What else a summary tells, when it happened. */
export interface SummaryExtras {
  /** The kernel's drops, read just before the queue unbound; undefined when /proc did not tell. */
  readonly kernelDrops?: KernelDrops | undefined;
  /** Lines not printed because standard output was behind (a slow reader). */
  readonly linesDropped?: number;
  /** The `--pcap` file, and records not written to it: dropped while it was behind, lost at a write error or the close deadline. */
  readonly pcap?: { readonly path: string; readonly dropped: number; readonly lost: number } | undefined;
}

const verdictWords: ReadonlyArray<[keyof RunCounters['verdicts'], string]> = [
  ['repeat', 'repeated'],
  ['queue', 'sent to another queue'],
  ['stop', 'stopped'],
  ['batch', 'batch verdicts'],
];

/**
 * The line `nf-queue` prints to stderr on exit, e.g. `nf-queue: 3 packets: 3 accepted, 0 dropped,
 * 1 by default (close 1); 0 dropped by the kernel (0 queue full, 0 socket full); 0 overrun events;
 * 1.52 s, 1.97 packets/s`. Default verdicts are also counted as accepted or dropped; only the
 * causes that happened are named. "dropped" alone is the drop verdict; the kernel's drops (when
 * known) are packets that never reached nf-queue; overrun events (ENOBUFS) are how often the
 * socket said it lost some. Lines and pcap records not written are named at the end when there are any.
 */
export function formatSummary(counters: RunCounters, seconds: number, extras: SummaryExtras = {}): string {
  const { verdicts } = counters;
  let line = `nf-queue: ${counters.received} packets: ${verdicts.accept} accepted, ${verdicts.drop} dropped`;
  for (const [kind, word] of verdictWords) {
    const value = verdicts[kind] ?? 0;
    if (value > 0) line += `, ${value} ${word}`;
  }
  const causes = Object.entries({
    close: counters.defaultVerdicts?.close ?? 0,
    timeout: counters.defaultVerdicts?.timeout ?? 0,
    'handler error': counters.defaultVerdicts?.handlerError ?? 0,
    'cut by receiver': counters.defaultVerdicts?.cutByReceiver ?? 0,
  }).filter(([, value]) => value > 0);
  const defaults = causes.reduce((sum, [, value]) => sum + value, 0);
  if (defaults > 0) line += `, ${defaults} by default (${causes.map(([cause, value]) => `${cause} ${value}`).join(', ')})`;
  const kernel = extras.kernelDrops;
  if (kernel !== undefined) {
    line += `; ${kernel.queueFull + kernel.socketFull} dropped by the kernel (${kernel.queueFull} queue full, ${kernel.socketFull} socket full)`;
  }
  const rate = seconds > 0 ? counters.received / seconds : 0;
  line += `; ${counters.overruns} overrun ${counters.overruns === 1 ? 'event' : 'events'}; ${seconds.toFixed(2)} s, ${rate.toFixed(rate >= 100 ? 0 : 2)} packets/s`;
  if ((extras.linesDropped ?? 0) > 0) line += `; ${extras.linesDropped} lines not printed (stdout was behind)`;
  const pcap = extras.pcap;
  if (pcap !== undefined && pcap.dropped + pcap.lost > 0) {
    const parts = [pcap.dropped > 0 ? `${pcap.dropped} dropped while it was behind` : '', pcap.lost > 0 ? `${pcap.lost} lost unwritten` : ''];
    line += `; ${pcap.dropped + pcap.lost} pcap records not in ${pcap.path} (${parts.filter(Boolean).join(', ')})`;
  }
  return line;
}

/** What the live status line shows. */
export interface StatusSnapshot {
  /** Packets received so far. */
  readonly received: number;
  /** Packets per second over the last refresh interval. */
  readonly rate: number;
  /** Packets accepted so far. */
  readonly accepted: number;
  /** Packets dropped so far. */
  readonly dropped: number;
  /** Socket overrun events (ENOBUFS) so far. */
  readonly overruns: number;
  /** Packets the kernel dropped (queue full + socket full), when /proc tells. */
  readonly kernelDrops: number | undefined;
}

/**
 * The live status line (without the terminal control characters), e.g.
 * `nf-queue: 120 packets/s, 1234 packets, 1200 accepted, 34 dropped, 0 dropped by the kernel, 0 overrun events`.
 */
export function formatStatus(status: StatusSnapshot): string {
  const kernel = status.kernelDrops === undefined ? '' : `, ${status.kernelDrops} dropped by the kernel`;
  return (
    `nf-queue: ${Math.round(status.rate)} packets/s, ${status.received} packets, ` +
    `${status.accepted} accepted, ${status.dropped} dropped${kernel}, ${status.overruns} overrun events`
  );
}

/** What a JSON line is made of: anything with `@nfq/nfqueue`'s `Packet.toJSON()`. */
export interface JsonPacket {
  /** Every attribute present, with id and hook. */
  toJSON(): Record<string, unknown>;
}

/** The verdict a packet was given, as a JSON line tells it. */
export interface GivenVerdict {
  /** `accept`, `drop`... */
  readonly verdict: string;
  /** The packet mark set with the verdict. */
  readonly mark?: number | undefined;
  /** The connection mark set with the verdict. */
  readonly connmark?: number | undefined;
}

/**
 * One packet as one line of JSON (`--json`): `packet.toJSON()`, payload as hex, then the verdict
 * `given`: `"verdict":"accept"`, and `"verdictMark"` / `"verdictConnmark"` when it sets them
 * (`"mark"` is the mark the packet came with).
 */
export function formatPacketJson(packet: JsonPacket, given?: GivenVerdict): string {
  const json = packet.toJSON();
  if (given !== undefined) {
    json.verdict = given.verdict;
    if (given.mark !== undefined) json.verdictMark = given.mark;
    if (given.connmark !== undefined) json.verdictConnmark = given.connmark;
  }
  return JSON.stringify(json);
}

/**
 * {@link Queue.metrics}' counters and histogram, and {@link formatPrometheus}, which renders them
 * in the Prometheus text exposition format (version 0.0.4) for an exporter's `/metrics`.
 */
import type { QueueCounters } from './queue.js';

/**
 * Upper bounds, in seconds, of the handler duration histogram's buckets (a last one, +Inf,
 * takes the rest): 1 µs to 100 ms.
 */
export const HANDLER_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.1,
]);

/** A histogram of durations in seconds, with the buckets of {@link HANDLER_DURATION_BUCKETS}. */
export interface DurationHistogram {
  /** Upper bounds of the buckets, in seconds, ascending (+Inf not included). */
  bounds: readonly number[];
  /** Observations per bucket, not cumulative: `counts[i]` fell in (bounds[i-1], bounds[i]]; the last entry is above every bound. */
  counts: number[];
  /** Sum of the observations, in seconds. */
  sum: number;
  /** Number of observations. */
  count: number;
}

/** One queue's numbers for an exporter: this process's counters and the kernel's line. */
export interface QueueMetrics {
  /** Queue number. */
  queue: number;
  /** Packets received. */
  received: number;
  /** Verdicts by kind (a VERDICT_BATCH counts once, under `batch`). */
  verdicts: QueueCounters['verdicts'];
  /** Packets that got the default verdict, by why. */
  defaultVerdicts: QueueCounters['defaultVerdicts'];
  /** Socket overruns (ENOBUFS): the kernel counts the packets lost in `kernel.userDropped`. */
  overruns: number;
  /** Packets this process holds without a verdict now. */
  held: number;
  /** The kernel's line for the queue; undefined when /proc cannot be read (not root) or the queue is unbound. */
  kernel: { waiting: number; queueDropped: number; userDropped: number } | undefined;
  /**
   * How long each packet took on the 'packet' listener path: from the moment the queue turned to
   * it in its batch (after the previous packet's listeners returned) to the return of its last
   * listener, so the packet's reading counts too (an async listener counts until it returns its
   * promise). One clock read per packet. Packets read through the iterators are not timed.
   */
  handlerDuration: DurationHistogram;
}

/**
 * The handler duration histogram, kept in typed arrays: observing allocates nothing.
 * @internal
 */
export class DurationRecorder {
  readonly #secondBounds: readonly number[];
  readonly #bounds: Float64Array;
  readonly #counts: Float64Array;
  #sum = 0;

  constructor(bounds: readonly number[] = HANDLER_DURATION_BUCKETS) {
    this.#secondBounds = bounds;
    // Kept in milliseconds, as performance.now() gives them.
    this.#bounds = Float64Array.from(bounds, (seconds) => seconds * 1000);
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one duration of `milliseconds`. */
  observe(milliseconds: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && milliseconds > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += milliseconds;
  }

  /** A copy, in seconds. */
  snapshot(): DurationHistogram {
    const counts = Array.from(this.#counts);
    return {
      bounds: this.#secondBounds,
      counts,
      sum: this.#sum / 1000,
      count: counts.reduce((total, n) => total + n, 0),
    };
  }
}

/**
 * What {@link formatPrometheus} renders for one queue: its number, and any of the metrics it has
 * (a queue seen only in the kernel's table, as `queueStats()` shows another process's, has `kernel` only).
 */
export type PrometheusQueue = Pick<QueueMetrics, 'queue'> & Partial<Omit<QueueMetrics, 'queue'>>;

type Family = {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  /** The family's sample lines for one queue (label `queue="N"`), none when it lacks the metric. */
  samples(queue: PrometheusQueue, label: string): string[];
};

const VERDICT_KINDS = ['accept', 'drop', 'repeat', 'queue', 'stop', 'batch'] as const;
const DEFAULT_REASONS = [
  ['handlerError', 'handler_error'],
  ['timeout', 'timeout'],
  ['close', 'close'],
  ['cutByReceiver', 'cut_by_receiver'],
  ['rejected', 'rejected'],
] as const;

const sample = (name: string, labels: string, value: number): string => `${name}{${labels}} ${formatValue(value)}`;

/** A sample value as the exposition format writes it (+Inf, -Inf, NaN, or a Go-parsable float). */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

const single =
  (name: string, value: (queue: PrometheusQueue) => number | undefined) =>
  (queue: PrometheusQueue, label: string): string[] => {
    const number = value(queue);
    return number === undefined ? [] : [sample(name, label, number)];
  };

const FAMILIES: readonly Family[] = [
  {
    name: 'nfqueue_packets_received_total',
    type: 'counter',
    help: 'Packets received from the kernel.',
    samples: single('nfqueue_packets_received_total', (q) => q.received),
  },
  {
    name: 'nfqueue_verdicts_total',
    type: 'counter',
    help: 'Verdicts sent, by kind (a VERDICT_BATCH counts once, as batch).',
    samples: (q, label) => (q.verdicts === undefined ? [] : VERDICT_KINDS.map((kind) => sample('nfqueue_verdicts_total', `${label},verdict="${kind}"`, q.verdicts![kind]))),
  },
  {
    name: 'nfqueue_default_verdicts_total',
    type: 'counter',
    help: 'Packets that got the default verdict, by reason.',
    samples: (q, label) =>
      q.defaultVerdicts === undefined
        ? []
        : DEFAULT_REASONS.map(([key, reason]) => sample('nfqueue_default_verdicts_total', `${label},reason="${reason}"`, q.defaultVerdicts![key])),
  },
  {
    name: 'nfqueue_overruns_total',
    type: 'counter',
    help: 'Socket overruns (ENOBUFS); the packets they lost count in nfqueue_kernel_user_dropped_total.',
    samples: single('nfqueue_overruns_total', (q) => q.overruns),
  },
  {
    name: 'nfqueue_packets_held',
    type: 'gauge',
    help: 'Packets this process holds without a verdict.',
    samples: single('nfqueue_packets_held', (q) => q.held),
  },
  {
    name: 'nfqueue_kernel_packets_waiting',
    type: 'gauge',
    help: 'Packets waiting in the kernel for a verdict.',
    samples: single('nfqueue_kernel_packets_waiting', (q) => q.kernel?.waiting),
  },
  {
    name: 'nfqueue_kernel_queue_dropped_total',
    type: 'counter',
    help: 'Packets the kernel dropped because the queue was full.',
    samples: single('nfqueue_kernel_queue_dropped_total', (q) => q.kernel?.queueDropped),
  },
  {
    name: 'nfqueue_kernel_user_dropped_total',
    type: 'counter',
    help: 'Packets the kernel dropped because the socket was full.',
    samples: single('nfqueue_kernel_user_dropped_total', (q) => q.kernel?.userDropped),
  },
  {
    name: 'nfqueue_handler_duration_seconds',
    type: 'histogram',
    help: "Time per packet from its reading to the return of its last 'packet' listener.",
    samples: (q, label) => {
      const histogram = q.handlerDuration;
      if (histogram === undefined) return [];
      const name = 'nfqueue_handler_duration_seconds';
      const lines: string[] = [];
      let cumulative = 0;
      histogram.bounds.forEach((bound, i) => {
        cumulative += histogram.counts[i] ?? 0;
        lines.push(sample(`${name}_bucket`, `${label},le="${formatValue(bound)}"`, cumulative));
      });
      lines.push(sample(`${name}_bucket`, `${label},le="+Inf"`, histogram.count));
      lines.push(sample(`${name}_sum`, label, histogram.sum), sample(`${name}_count`, label, histogram.count));
      return lines;
    },
  },
];

/**
 * The queues' metrics in the Prometheus text exposition format 0.0.4 (serve it as
 * `text/plain; version=0.0.4`): HELP and TYPE lines once per metric, then a sample per queue
 * labelled `queue="N"`; a metric no queue has is left out. Ends with a newline.
 *
 * ```ts
 * http.createServer((request, response) => {
 *   response.setHeader('Content-Type', 'text/plain; version=0.0.4');
 *   response.end(formatPrometheus([queue.metrics()]));
 * });
 * ```
 */
export function formatPrometheus(queues: readonly PrometheusQueue[]): string {
  const sorted = [...queues].sort((a, b) => a.queue - b.queue);
  const lines: string[] = [];
  for (const family of FAMILIES) {
    const samples = sorted.flatMap((queue) => family.samples(queue, `queue="${queue.queue}"`));
    if (samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`, ...samples);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** queue.metrics() on a fake binding, and formatPrometheus' text, parsed back. */
import { buildPacketMessage } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { HANDLER_DURATION_BUCKETS, type NativeBinding, type QueueMetrics, formatPrometheus, openQueue } from '../../src/index.js';
import { boundQueue, createFakeBinding } from '../fake-native.js';

const packetMessage = (id: number): Uint8Array => buildPacketMessage({ queue: 3, id, hwProtocol: 0x0800, hook: 3, payload: Uint8Array.of(0x45, 0, 0, 20, id) });

/** A sample line: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format 0.0.4 (the subset formatPrometheus writes), checking every line's shape. */
function parseExposition(text: string): { help: Map<string, string>; types: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith('\n')).toBe(true);
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      const into = kind === 'HELP' ? help : types;
      expect(into.has(name!), `${kind} ${name} once`).toBe(false);
      into.set(name!, rest!);
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*)\} (\S+)$/.exec(line);
    expect(match, `sample line: ${line}`).not.toBeNull();
    const labels = Object.fromEntries([...match![2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const value = match![3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match![3]);
    expect(Number.isNaN(value), `value of ${line}`).toBe(false);
    samples.push({ name: match![1]!, labels, value });
  }
  return { help, types, samples };
}

const familyOf = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');

describe('queue.metrics()', () => {
  it('counts packets, verdicts, default verdicts and the handler durations, with the kernel line', async () => {
    const { binding: fake, opened } = createFakeBinding();
    const binding: NativeBinding = { ...fake, boundQueues: () => opened.map((q) => boundQueue(q.queueNum, q.portId, { waiting: 1, queueDropped: 2, userDropped: 5 })) };
    const queue = await openQueue({ queue: 3 }, { binding });
    queue.on('error', () => undefined);
    let n = 0;
    queue.on('packet', (packet) => {
      n++;
      if (n === 1) packet.drop();
      else if (n === 2) throw new Error('handler failed');
      else packet.accept();
    });
    opened[0]!.deliver(packetMessage(1), packetMessage(2), packetMessage(3), packetMessage(4));
    const metrics = queue.metrics();
    expect(metrics).toMatchObject({
      queue: 3,
      received: 4,
      verdicts: { accept: 3, drop: 1 },
      defaultVerdicts: { handlerError: 1 },
      overruns: 0,
      held: 0,
      kernel: { waiting: 1, queueDropped: 2, userDropped: 5 },
    });
    const histogram = metrics.handlerDuration;
    expect(histogram.bounds).toEqual(HANDLER_DURATION_BUCKETS);
    expect(histogram.counts).toHaveLength(HANDLER_DURATION_BUCKETS.length + 1);
    expect(histogram.count).toBe(4);
    expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(histogram.sum).toBeGreaterThanOrEqual(0);
    await queue.close();
  });

  it('has no kernel line when /proc cannot be read, and times no packet read through an iterator', async () => {
    const { binding: fake, opened } = createFakeBinding();
    const binding: NativeBinding = {
      ...fake,
      boundQueues: () => {
        throw Object.assign(new Error('EACCES'), { kind: 'Io', code: 'EACCES' });
      },
    };
    const queue = await openQueue({ queue: 3 }, { binding });
    opened[0]!.deliver(packetMessage(1));
    const iterator = queue[Symbol.asyncIterator]();
    const first = await iterator.next();
    first.value!.accept();
    const metrics = queue.metrics();
    expect(metrics.kernel).toBeUndefined();
    expect(metrics.received).toBe(1);
    expect(metrics.handlerDuration.count).toBe(0);
    await iterator.return!();
  });
});

describe('formatPrometheus', () => {
  const histogram = { bounds: [0.001, 0.01], counts: [3, 1, 2], sum: 0.5, count: 6 };
  const full = (queue: number): QueueMetrics => ({
    queue,
    received: 10 + queue,
    verdicts: { accept: 8, drop: 2, repeat: 0, queue: 0, stop: 0, batch: 1 },
    defaultVerdicts: { handlerError: 1, timeout: 0, close: 2, cutByReceiver: 0, rejected: 0 },
    overruns: 4,
    held: 0,
    kernel: { waiting: 0, queueDropped: 7, userDropped: 9 },
    handlerDuration: histogram,
  });

  it('writes HELP and TYPE once per metric, counters with _total, one sample per queue', () => {
    const { help, types, samples } = parseExposition(formatPrometheus([full(2), full(1)]));
    for (const sample of samples) {
      const family = familyOf(sample.name);
      expect(help.has(family) && types.has(family), `HELP and TYPE for ${sample.name}`).toBe(true);
      if (types.get(family) === 'counter') expect(family.endsWith('_total')).toBe(true);
      expect(['1', '2']).toContain(sample.labels.queue);
    }
    expect(types.get('nfqueue_packets_received_total')).toBe('counter');
    expect(types.get('nfqueue_kernel_packets_waiting')).toBe('gauge');
    expect(types.get('nfqueue_handler_duration_seconds')).toBe('histogram');
    const value = (name: string, labels: Record<string, string>): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('nfqueue_packets_received_total', { queue: '1' })).toBe(11);
    expect(value('nfqueue_packets_received_total', { queue: '2' })).toBe(12);
    expect(value('nfqueue_verdicts_total', { queue: '1', verdict: 'accept' })).toBe(8);
    expect(value('nfqueue_verdicts_total', { queue: '1', verdict: 'batch' })).toBe(1);
    expect(value('nfqueue_default_verdicts_total', { queue: '2', reason: 'handler_error' })).toBe(1);
    expect(value('nfqueue_default_verdicts_total', { queue: '2', reason: 'close' })).toBe(2);
    expect(value('nfqueue_overruns_total', { queue: '1' })).toBe(4);
    expect(value('nfqueue_kernel_queue_dropped_total', { queue: '1' })).toBe(7);
    expect(value('nfqueue_kernel_user_dropped_total', { queue: '1' })).toBe(9);
    // Queues in order: queue 1's samples before queue 2's.
    const received = samples.filter((s) => s.name === 'nfqueue_packets_received_total').map((s) => s.labels.queue);
    expect(received).toEqual(['1', '2']);
  });

  it('writes the histogram with cumulative, monotonic buckets, +Inf equal to _count, and _sum', () => {
    const { samples } = parseExposition(formatPrometheus([full(0)]));
    const buckets = samples.filter((s) => s.name === 'nfqueue_handler_duration_seconds_bucket');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.001', '0.01', '+Inf']);
    expect(buckets.map((b) => b.value)).toEqual([3, 4, 6]);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    const count = samples.find((s) => s.name === 'nfqueue_handler_duration_seconds_count')!.value;
    expect(buckets.at(-1)!.value).toBe(count);
    expect(samples.find((s) => s.name === 'nfqueue_handler_duration_seconds_sum')!.value).toBe(0.5);
  });

  it('leaves out what a queue seen only in the kernel table lacks; nothing at all for no queue', () => {
    const { types, samples } = parseExposition(formatPrometheus([{ queue: 5, kernel: { waiting: 3, queueDropped: 0, userDropped: 1 } }]));
    expect([...types.keys()].sort()).toEqual(['nfqueue_kernel_packets_waiting', 'nfqueue_kernel_queue_dropped_total', 'nfqueue_kernel_user_dropped_total']);
    expect(samples).toHaveLength(3);
    expect(formatPrometheus([])).toBe('');
  });

  it('renders a real queue histogram whose buckets add up', async () => {
    const { binding, opened } = createFakeBinding();
    const queue = await openQueue({ queue: 3 }, { binding });
    queue.on('packet', (packet) => packet.accept());
    opened[0]!.deliver(...[1, 2, 3, 4, 5, 6].map(packetMessage));
    const { samples } = parseExposition(formatPrometheus([queue.metrics()]));
    const buckets = samples.filter((s) => s.name === 'nfqueue_handler_duration_seconds_bucket');
    expect(buckets).toHaveLength(HANDLER_DURATION_BUCKETS.length + 1);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 6 });
    await queue.close();
  });
});

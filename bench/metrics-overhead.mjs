// What timing the 'packet' listeners costs per packet: one performance.now() and one
// observation of @nfq/nfqueue's handler duration histogram, against prom-client's Histogram
// (when it can be imported: node bench/metrics-overhead.mjs PATH_TO/prom-client).
// Needs `npm run build -w @nfq/nfqueue`.
import { DurationRecorder } from '../packages/nfqueue/dist/metrics.js';
import { HANDLER_DURATION_BUCKETS, formatPrometheus } from '../packages/nfqueue/dist/metrics.js';

const N = 10_000_000;
const durations = Array.from({ length: 1024 }, (_, i) => 0.0005 + (i % 37) * 0.0003); // 0.5-11 µs, in ms

function measure(name, observe) {
  for (let i = 0; i < N / 10; i++) observe(durations[i & 1023]); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) observe(durations[i & 1023]);
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${name.padEnd(44)} ${ns.toFixed(1)} ns/packet`);
}

const recorder = new DurationRecorder();
measure('empty loop', () => undefined);
measure('performance.now()', () => performance.now());
measure('DurationRecorder.observe', (ms) => recorder.observe(ms));
let handledAt = performance.now();
measure('performance.now() + DurationRecorder (as Queue)', () => {
  const now = performance.now();
  recorder.observe(now - handledAt);
  handledAt = now;
});

const promPath = process.argv[2];
if (promPath) {
  const { default: client } = await import(promPath);
  const registry = new client.Registry();
  const histogram = new client.Histogram({ name: 'h', help: 'h', labelNames: ['queue'], buckets: [...HANDLER_DURATION_BUCKETS], registers: [registry] });
  const child = histogram.labels({ queue: '0' });
  measure('prom-client Histogram child.observe', (ms) => child.observe(ms / 1000));
  measure('prom-client Histogram.observe({queue})', (ms) => histogram.observe({ queue: '0' }, ms / 1000));
  const renderStart = performance.now();
  for (let i = 0; i < 10_000; i++) await registry.metrics();
  console.log(`prom-client registry.metrics() (histogram only)  ${((performance.now() - renderStart)  / 10).toFixed(1)} µs/scrape`);
}
const snapshot = { queue: 0, received: 1, overruns: 0, held: 0, verdicts: { accept: 1, drop: 0, repeat: 0, queue: 0, stop: 0, batch: 0 }, defaultVerdicts: { handlerError: 0, timeout: 0, close: 0, cutByReceiver: 0, rejected: 0 }, kernel: { waiting: 0, queueDropped: 0, userDropped: 0 }, handlerDuration: recorder.snapshot() };
const renderStart = performance.now();
for (let i = 0; i < 10_000; i++) formatPrometheus([snapshot]);
console.log(`formatPrometheus (every metric, one queue)   ${((performance.now() - renderStart)  / 10).toFixed(1)} µs/scrape`);

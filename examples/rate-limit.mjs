#!/usr/bin/env node
// A per-source rate limiter: each source address gets a token bucket of --burst packets, refilled
// at --rate packets per second; a packet finding its bucket empty is dropped. E.g.
//   iptables -A INPUT -p udp --dport 53 -j NFQUEUE --queue-num 0 --queue-bypass
//   node examples/rate-limit.mjs --rate 50 --burst 100
import { openQueue, parseIpHeader } from '@nfq/nfqueue';
import { closeOnSignal, exampleArgs } from './common.mjs';

const args = exampleArgs('rate-limit.mjs --rate PER_SECOND [--burst N] [--queue N] [--netns NAME]', {
  rate: { type: 'string', default: '10' },
  burst: { type: 'string', default: '20' },
});
const rate = Number(args.rate);
const burst = Number(args.burst);
if (!(rate > 0) || !(burst >= 1)) {
  console.error('--rate takes packets per second (> 0), --burst a packet count (>= 1)');
  process.exit(2);
}

/** Source address -> { tokens, at (ms) }. */
const buckets = new Map();
// Buckets that have refilled are forgotten, so that memory stays bounded by the active sources.
setInterval(() => {
  const now = performance.now();
  for (const [source, bucket] of buckets) if (bucket.tokens + ((now - bucket.at) / 1000) * rate >= burst) buckets.delete(source);
}, 10_000).unref();

const counts = new Map();
const queue = await openQueue({ queue: args.queue, netns: args.netns, copyRange: 64 }); // the IP header is enough
queue.on('packet', (packet) => {
  let source;
  try {
    source = parseIpHeader(packet.payload).source;
  } catch {
    packet.accept(); // not IP we can read: not ours to limit
    return;
  }
  const now = performance.now();
  const bucket = buckets.get(source) ?? { tokens: burst, at: now };
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
  bucket.at = now;
  buckets.set(source, bucket);
  const count = counts.get(source) ?? { accepted: 0, dropped: 0 };
  counts.set(source, count);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    count.accepted++;
    packet.accept();
  } else {
    count.dropped++;
    packet.drop();
  }
});
closeOnSignal(queue, () => {
  for (const [source, { accepted, dropped }] of counts) console.log(`${source}: ${accepted} accepted, ${dropped} dropped`);
});
console.error(`rate-limit: queue ${args.queue}, ${rate} packets/s per source, bursts of ${burst}`);

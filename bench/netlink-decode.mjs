#!/usr/bin/env node
// Benchmark: how many NFQNL_MSG_PACKET views per second @nfq/netlink decodes from a received batch.
//
// Builds one batch of BATCH_SIZE packet messages shaped like the kernel's (NFQA_PACKET_HDR,
// NFQA_IFINDEX_OUTDEV, NFQA_MARK on every other packet, NFQA_UID/NFQA_GID on every fourth, a
// 64-byte NFQA_PAYLOAD, no NFQA_HWADDR), then decodes it again and again with decodeMessages,
// reading id, hook, mark and payload of every packet. Reports the median of RUNS timed runs.
//
// Usage: npm run build -w @nfq/netlink && npm run bench
// Environment: BENCH_SECONDS (time per run, default 0.5), BENCH_RUNS (default 5), BENCH_BATCH (default 64).
// With --save, writes bench/results/netlink-decode.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

const netlinkUrl = new URL('../packages/netlink/dist/index.js', import.meta.url);
const { buildPacketMessage, decodeMessages, forEachPacket } = await import(netlinkUrl.href).catch((error) => {
  console.error(`Cannot load ${netlinkUrl.pathname}: build it first (npm run build -w @nfq/netlink).`);
  throw error;
});

const BATCH_SIZE = Number(process.env.BENCH_BATCH ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS_PER_RUN = Number(process.env.BENCH_SECONDS ?? 0.5);
const WARMUP_SECONDS = 0.5;
const PAYLOAD_BYTES = 64;
const TARGET_PER_SECOND = 5_000_000;

/** One batch as nfq-core hands it over: messages back to back in one Buffer. */
function buildBatch() {
  const messages = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    const payload = new Uint8Array(PAYLOAD_BYTES);
    payload[0] = 0x45; // IPv4, IHL 5
    for (let j = 1; j < PAYLOAD_BYTES; j++) payload[j] = (i + j) & 0xff;
    messages.push(
      buildPacketMessage({
        queue: 0,
        id: i + 1,
        hwProtocol: 0x0800,
        hook: i % 3 === 0 ? 1 : 3,
        outdev: 1,
        mark: i % 2 === 0 ? 0x2a : undefined,
        uid: i % 4 === 0 ? 1000 : undefined,
        gid: i % 4 === 0 ? 1000 : undefined,
        payload,
      }),
    );
  }
  return Buffer.concat(messages);
}

/** Decodes `batch` once with the iterator, reading id, hook, mark and payload of each packet; returns a checksum. */
function decodeWithIterator(batch) {
  let checksum = 0;
  for (const message of decodeMessages(batch)) {
    if (message.type !== 'packet') continue;
    const packet = message.packet;
    const payload = packet.payload;
    checksum = (checksum + packet.id + packet.hook + (packet.mark ?? 0) + payload.length + payload[payload.length - 1]) | 0;
  }
  return checksum;
}

let callbackChecksum = 0;
function readPacket(packet) {
  const payload = packet.payload;
  callbackChecksum = (callbackChecksum + packet.id + packet.hook + (packet.mark ?? 0) + payload.length + payload[payload.length - 1]) | 0;
}

/** The same with forEachPacket, the path @nfq/nfqueue takes: no wrapper or iterator result per packet. */
function decodeWithCallback(batch) {
  callbackChecksum = 0;
  forEachPacket(batch, readPacket);
  return callbackChecksum;
}

/** Decodes with `decodeOnce` for about `seconds`; returns packets decoded, elapsed seconds and the checksum. */
function timedRun(decodeOnce, batch, seconds) {
  let batches = 0;
  let checksum = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) checksum = (checksum + decodeOnce(batch)) | 0;
    batches += 64;
    now = performance.now();
  }
  return { packets: batches * BATCH_SIZE, seconds: (now - start) / 1000, checksum };
}

const batch = buildBatch();
const paths = { forEachPacket: decodeWithCallback, decodeMessages: decodeWithIterator };
const runs = { forEachPacket: [], decodeMessages: [] };
const expected = {};
for (const [name, decodeOnce] of Object.entries(paths)) {
  expected[name] = decodeOnce(batch);
  timedRun(decodeOnce, batch, WARMUP_SECONDS);
}
if (expected.forEachPacket !== expected.decodeMessages) throw new Error('the two paths read different values');
// Alternate the two paths run by run: this machine's speed drifts, so compare like with like.
for (let run = 0; run < RUNS; run++) {
  for (const [name, decodeOnce] of Object.entries(paths)) {
    const { packets, seconds, checksum } = timedRun(decodeOnce, batch, SECONDS_PER_RUN);
    // Using the checksum keeps V8 from dropping the reads; checking it proves they were right.
    if (checksum !== Math.imul(expected[name], packets / BATCH_SIZE)) {
      throw new Error(`${name} run ${run} decoded different values than the first decode`);
    }
    runs[name].push(packets / seconds);
  }
}
const medianOf = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const median = medianOf(runs.forEachPacket);
const iteratorMedian = medianOf(runs.decodeMessages);
const nsPerPacket = 1e9 / median;

const result = {
  benchmark: 'netlink-decode',
  description: `forEachPacket over a batch of ${BATCH_SIZE} packet messages with ${PAYLOAD_BYTES}-byte payloads, reading id, hook, mark and payload; decodeMessages (the iterator) measured alongside`,
  packetsPerSecond: Math.round(median),
  nsPerPacket: Number(nsPerPacket.toFixed(1)),
  runsPacketsPerSecond: runs.forEachPacket.map(Math.round),
  iteratorPacketsPerSecond: Math.round(iteratorMedian),
  iteratorRunsPacketsPerSecond: runs.decodeMessages.map(Math.round),
  targetPacketsPerSecond: TARGET_PER_SECOND,
  meetsTarget: median >= TARGET_PER_SECOND,
  batchSize: BATCH_SIZE,
  batchBytes: batch.length,
  payloadBytes: PAYLOAD_BYTES,
  secondsPerRun: SECONDS_PER_RUN,
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  date: new Date().toISOString(),
};

const save = process.argv.includes('--save');
if (save) {
  const resultsDirectory = new URL('./results/', import.meta.url);
  mkdirSync(resultsDirectory, { recursive: true });
  writeFileSync(new URL('netlink-decode.json', resultsDirectory), `${JSON.stringify(result, null, 2)}\n`);
}

const millions = (value) => `${(value / 1e6).toFixed(2)} M/s`;
console.log(`netlink-decode: forEachPacket ${millions(median)} packet views (median of ${RUNS}), ${nsPerPacket.toFixed(1)} ns per packet`);
console.log(`  runs: ${runs.forEachPacket.map(millions).join(', ')}`);
console.log(`  decodeMessages (iterator): ${millions(iteratorMedian)}; runs: ${runs.decodeMessages.map(millions).join(', ')}`);
console.log(`  target ${millions(TARGET_PER_SECOND)}: ${result.meetsTarget ? 'met' : 'NOT met'}`);
console.log(save ? '  written to bench/results/netlink-decode.json' : '  not saved (--save writes bench/results/netlink-decode.json)');

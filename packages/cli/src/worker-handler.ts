/**
 * The handler module of `nf-queue --queue-balance A:B`: each worker thread of
 * `openQueueRange` imports it (as `worker-handler.js?<settings>`, see `serve.ts`) and serves
 * its queue with it: the configured verdict for every packet, its line written to standard
 * output (which Node pipes to the main thread's), its pcap record appended to the shared file.
 *
 * The main thread hands out shared counters on a BroadcastChannel: with them the workers stop
 * at exactly `--count` packets over all queues, and the main thread sees progress.
 */
import { writeSync } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import type { Packet, Queue } from '@nfq/nfqueue';
import { pcapNow, pcapRecordHeader, PCAP_SNAPLEN } from './pcap.js';
import {
  COUNTER_CLAIMED,
  COUNTER_VERDICTED,
  type RangeMessage,
  verdictGiver,
  packetOutput,
  parseWorkerHandlerQuery,
} from './serve.js';

const setup = parseWorkerHandlerQuery(new URL(import.meta.url).searchParams);
const giveVerdict = verdictGiver(setup);
const channel = new BroadcastChannel(setup.channel);
channel.unref();
let counters: Int32Array | undefined;
let announceReady!: () => void;
const ready = new Promise<void>((resolve) => (announceReady = resolve));
channel.onmessage = (event) => {
  const message = (event as { data: RangeMessage }).data;
  if (message.type === 'setup' && counters === undefined) {
    counters = new Int32Array(message.counters);
    announceReady();
  }
};
channel.postMessage({ type: 'hello' } satisfies RangeMessage);

let served: Queue | undefined;

function watch(queue: Queue): void {
  served = queue;
  // The queue's last counters, once every packet has its verdict, for the summary.
  queue.once('close', () => channel.postMessage({ type: 'final', queue: queue.queueNum, stats: queue.stats() } satisfies RangeMessage));
}

function appendPcap(fd: number, packet: Packet): void {
  const payload = packet.payload;
  const length = Math.min(payload.length, PCAP_SNAPLEN);
  const header = pcapRecordHeader(packet.timestamp ?? pcapNow(), length, packet.capLen ?? payload.length);
  // One write per record: the workers share the file offset, and each write() appends whole.
  writeSync(fd, Buffer.concat([header, payload.subarray(0, length)]));
}

/** Serves one packet of this worker's queue (the default export `openQueueRange` calls). */
export default function servePacket(packet: Packet, queue: Queue): void | Promise<void> {
  if (counters === undefined) return ready.then(() => servePacket(packet, queue));
  if (served === undefined) watch(queue);
  if (setup.count !== undefined && Atomics.add(counters, COUNTER_CLAIMED, 1) >= setup.count) {
    return; // beyond --count: the default verdict at close
  }
  const line = packetOutput(packet, setup);
  if (line !== undefined) process.stdout.write(`${line}\n`);
  if (setup.pcapFd !== undefined) appendPcap(setup.pcapFd, packet);
  giveVerdict(packet);
  Atomics.add(counters, COUNTER_VERDICTED, 1);
  Atomics.notify(counters, COUNTER_VERDICTED);
}

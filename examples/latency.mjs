#!/usr/bin/env node
// A latency injector: every packet waits --delay ms (plus up to --jitter ms at random) before it
// is accepted, to test how an application copes with a slow network. Packets still waiting when
// it stops are accepted at once. E.g.
//   iptables -A OUTPUT -p tcp --dport 443 -j NFQUEUE --queue-num 0 --queue-bypass
//   node examples/latency.mjs --delay 200 --jitter 50
import { openQueue } from '@nfq/nfqueue';
import { closeOnSignal, exampleArgs } from './common.mjs';

const args = exampleArgs('latency.mjs --delay MS [--jitter MS] [--queue N] [--netns NAME]', {
  delay: { type: 'string', default: '100' },
  jitter: { type: 'string', default: '0' },
});
const delay = Number(args.delay);
const jitter = Number(args.jitter);
if (!(delay >= 0) || !(jitter >= 0)) {
  console.error('--delay and --jitter take milliseconds (0 or more)');
  process.exit(2);
}

// drainTimeout 0: on close, held packets get the default verdict (accept) at once.
const queue = await openQueue({ queue: args.queue, netns: args.netns, copyMode: 'meta', drainTimeout: 0 });
queue.on('packet', (packet) => {
  setTimeout(() => {
    if (!packet.hasVerdict) packet.accept(); // close() may have given it already
  }, delay + Math.random() * jitter);
});
closeOnSignal(queue);
console.error(`latency: queue ${args.queue}, delaying every packet by ${delay} ms${jitter ? ` + up to ${jitter} ms` : ''}`);

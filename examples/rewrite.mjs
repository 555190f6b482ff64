#!/usr/bin/env node
// A payload rewriter: in UDP and TCP payloads, replaces the first occurrence of --from with --to
// (any length: the IP and UDP/TCP lengths and checksums are fixed by `mangle`). E.g.
//   iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//   node examples/rewrite.mjs --from hello --to 'hello, world'
// (Changing a TCP payload's length desynchronises the sequence numbers of the rest of the
// connection: fine for a test, not for a live TCP stream.)
import { TcpHeader, UdpHeader, mangle, openQueue, parseIp } from '@nfq/nfqueue';
import { closeOnSignal, exampleArgs } from './common.mjs';

const args = exampleArgs('rewrite.mjs --from TEXT --to TEXT [--queue N] [--netns NAME]', {
  from: { type: 'string' },
  to: { type: 'string', default: '' },
});
if (!args.from) {
  console.error('--from needs the text to replace');
  process.exit(2);
}
const from = Buffer.from(args.from);
const to = Buffer.from(args.to);

const queue = await openQueue({ queue: args.queue, netns: args.netns });
queue.on('packet', (packet) => {
  try {
    const { l4 } = parseIp(packet.payload);
    if (l4 instanceof UdpHeader || l4 instanceof TcpHeader) {
      const at = Buffer.from(l4.payload.buffer, l4.payload.byteOffset, l4.payload.byteLength).indexOf(from);
      if (at >= 0) {
        packet.accept({ payload: mangle(packet.payload, { offset: at, length: from.length, replacement: to }) });
        console.log(`rewrote packet ${packet.id}: '${args.from}' -> '${args.to}'`);
        return;
      }
    }
  } catch (error) {
    console.error(`packet ${packet.id} left as it is: ${error.message}`);
  }
  packet.accept();
});
closeOnSignal(queue);
console.error(`rewrite: queue ${args.queue}, '${args.from}' -> '${args.to}'`);

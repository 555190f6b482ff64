// Contender (d): the Node API's callback path, `queue.on('packet', handler)`.
import { open, parseArgs } from './common.mjs';

const { queue: queueNum, count, drop } = parseArgs();
const queue = await open(queueNum);
let seen = 0;
queue.on('packet', (packet) => {
  if (drop) packet.drop();
  else packet.accept();
  if (++seen === count) queue.close().then(() => process.exit(0));
});
queue.on('error', (error) => console.error('node-callback:', error.message));
// The harness stops runs that never reach COUNT (tcp-iperf3, ping-rtt) with SIGTERM: close cleanly.
process.once('SIGTERM', () => queue.close().then(() => process.exit(0)));

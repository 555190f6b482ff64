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

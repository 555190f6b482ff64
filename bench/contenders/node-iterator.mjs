// Contender (e): the async iterator, `for await (const packet of queue)`.
import { open, parseArgs } from './common.mjs';

const { queue: queueNum, count, drop } = parseArgs();
const queue = await open(queueNum);
let seen = 0;
for await (const packet of queue) {
  if (drop) packet.drop();
  else packet.accept();
  if (++seen >= count) break; // leaving the loop closes the queue
}
await queue.close();

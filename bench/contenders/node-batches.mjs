// Contender (d, batch path): `for await (const batch of queue.batches())`.
import { open, parseArgs } from './common.mjs';

const { queue: queueNum, count, drop } = parseArgs();
const queue = await open(queueNum);
let seen = 0;
for await (const batch of queue.batches()) {
  for (const packet of batch) {
    if (drop) packet.drop();
    else packet.accept();
  }
  seen += batch.length;
  if (seen >= count) break; // leaving the loop closes the queue
}
await queue.close();

#!/usr/bin/env node
// Many cores: serves the queues of an `iptables ... -j NFQUEUE --queue-balance FROM:TO` rule, one
// worker thread per queue, each running multi-core-handler.mjs; prints each queue's counters
// when it stops. E.g.
//   iptables -A INPUT -p tcp --dport 443 -j NFQUEUE --queue-balance 0:3 --queue-cpu-fanout --queue-bypass
//   node examples/multi-core.mjs --from 0 --to 3
import { openQueueRange } from '@nfq/nfqueue';
import { exampleArgs } from './common.mjs';

const args = exampleArgs('multi-core.mjs --from N --to N [--netns NAME]', { from: { type: 'string', default: '0' }, to: { type: 'string', default: '1' } });
const range = await openQueueRange({
  from: Number(args.from),
  to: Number(args.to),
  netns: args.netns,
  handler: new URL('./multi-core-handler.mjs', import.meta.url),
});
range.on('error', (error) => console.error(`multi-core: ${error.message}`));
const stop = async () => {
  const stats = await range.stats(); // asked before closing: each worker answers for its queue
  await range.close();
  for (const [queue, counters] of stats.perQueue) console.log(`queue ${queue}: ${counters.received} packets, ${counters.verdicts.accept} accepted`);
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
console.error(`multi-core: queues ${range.queues.join(', ')}, one worker thread each`);

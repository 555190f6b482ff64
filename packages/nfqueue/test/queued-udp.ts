/** The set-up most kernel tests of this package share: a queue that local UDP to one port goes to. */
import { type TestNamespace, queueUdpTo } from '@nfq/test-kit';
import { type Queue, type QueueOptions, openQueue } from '../src/index.js';

/** Queues local UDP to `port` on queue `options.queue` inside `ns` and opens that queue there (closed when `ns` goes). */
export async function openQueuedUdp(ns: TestNamespace, port: number, options: Omit<QueueOptions, 'netns'>): Promise<Queue> {
  await queueUdpTo(ns.name, port, options.queue);
  const queue = await openQueue({ ...options, netns: ns.name });
  ns.defer(() => queue.close());
  return queue;
}

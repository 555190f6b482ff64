/**
 * kernelStats() across close(): the queue's /proc line leaves the table as the queue unbinds, so
 * after close() the queue gives its last line, read just before it unbound.
 */
import { describe, expect, it } from 'vitest';
import { openQueue } from '../../src/index.js';
import type { NativeBinding } from '../../src/index.js';
import { boundQueue, createFakeBinding } from '../fake-native.js';

/** A fake binding whose table shows `drops.user` socket-full drops for each bound queue. */
function bindingWithDrops(): { binding: NativeBinding; opened: ReturnType<typeof createFakeBinding>['opened']; drops: { user: number }; reads: { count: number } } {
  const { binding, opened } = createFakeBinding();
  const drops = { user: 0 };
  const reads = { count: 0 };
  return {
    opened,
    drops,
    reads,
    binding: {
      ...binding,
      boundQueues: () => {
        reads.count++;
        return opened.filter((queue) => !queue.isClosed).map((queue) => boundQueue(queue.queueNum, queue.portId, { userDropped: drops.user }));
      },
    },
  };
}

describe('kernelStats()', () => {
  it('while open, reads the live line of /proc', async () => {
    const { binding, drops } = bindingWithDrops();
    const queue = await openQueue({ queue: 7 }, { binding });
    drops.user = 3;
    expect(queue.kernelStats()).toMatchObject({ queue: 7, portId: 4242, userDropped: 3 });
    drops.user = 5;
    expect(queue.kernelStats()?.userDropped).toBe(5);
    await queue.close();
  });

  it('after close(), gives the last line, read just before the queue unbound, with the drops made while it closed', async () => {
    const { binding, opened, drops, reads } = bindingWithDrops();
    const queue = await openQueue({ queue: 7, drainTimeout: 0 }, { binding });
    const native = opened[0]!;
    drops.user = 2;
    // The socket overflows on until the kernel takes the request to stop queueing.
    const stopQueueing = native.stopQueueing.bind(native);
    native.stopQueueing = (accept: boolean) => {
      drops.user = 9;
      stopQueueing(accept);
    };
    let atClose: unknown;
    queue.once('close', () => (atClose = queue.kernelStats()));
    await queue.close();
    expect(native.isClosed).toBe(true);
    expect(binding.boundQueues()).toEqual([]); // the line left /proc with the queue
    expect(atClose).toMatchObject({ queue: 7, portId: 4242, userDropped: 9, queueDropped: 0 });
    drops.user = 100; // nothing more is read once the queue is closed
    const before = reads.count;
    expect(queue.kernelStats()).toMatchObject({ queue: 7, portId: 4242, userDropped: 9 });
    expect(reads.count).toBe(before);
  });

  it('after close(), undefined when the table could not be read as the queue unbound', async () => {
    const { binding } = bindingWithDrops();
    let failing = false;
    const failingBinding: NativeBinding = {
      ...binding,
      boundQueues: (netns, owners) => {
        if (failing) throw Object.assign(new Error('read /proc/net/netfilter/nfnetlink_queue: Permission denied (EACCES)'), { code: 'EACCES', kind: 'Io', errno: 13 });
        return binding.boundQueues(netns, owners);
      },
    };
    const queue = await openQueue({ queue: 7 }, { binding: failingBinding });
    expect(queue.kernelStats()?.queue).toBe(7);
    failing = true;
    await expect(queue.close()).resolves.toBeUndefined();
    expect(queue.kernelStats()).toBeUndefined();
  });
});

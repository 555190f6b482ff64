/**
 * close() with a fake binding: the kernel stops queueing first, and the socket is read to its
 * end however much it holds, so that nothing is left waiting when the queue unbinds.
 */
import { NF_ACCEPT, NF_DROP, buildPacketMessage } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { openQueue } from '../../src/index.js';
import { createFakeBinding } from '../fake-native.js';

const packetMessage = (id: number): Uint8Array =>
  buildPacketMessage({ queue: 3, id, hwProtocol: 0x0800, hook: 3, outdev: 2, payload: Uint8Array.of(0x45, 0, 0, 20) });

describe('close() after a backlog', () => {
  it.each([
    ['accept', NF_ACCEPT],
    ['drop', NF_DROP],
  ] as const)('stops the kernel queueing first, then verdicts all the socket held (%s)', async (defaultVerdict, verdict) => {
    const { binding, opened } = createFakeBinding();
    const queue = await openQueue({ queue: 3, defaultVerdict, drainTimeout: 0 }, { binding });
    const native = opened[0]!;
    // 200 reads' worth of packets still in the socket: more than any fixed number of rounds.
    for (let id = 1; id <= 200; id++) native.pendingInSocket.push(Buffer.from(packetMessage(id)));
    await queue.close();
    expect(native.calls.indexOf(`stopQueueing:${defaultVerdict}`)).toBeGreaterThanOrEqual(0);
    expect(native.calls.indexOf(`stopQueueing:${defaultVerdict}`)).toBeLessThan(native.calls.indexOf('stopReceiving'));
    expect(native.kernelWaiting()).toBe(0);
    expect(native.verdicts.map((v) => v.id)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(native.verdicts.every((v) => v.verdict === verdict)).toBe(true);
    expect(queue.stats().defaultVerdicts.close).toBe(200);
    expect(native.calls.at(-1)).toBe('close');
  });
});

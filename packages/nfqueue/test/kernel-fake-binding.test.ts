/**
 * The fake binding the unit tests run on raises its errors as the real binding does: for each
 * failure both can produce, the same class of error with the same `code`, `kind`, `errno`,
 * details and message (port ids aside, which differ by nature). The fake's EIO on receive and
 * its "nfnetlink_queue not loaded" cannot be caused on a real kernel here and are not compared.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type NativeBinding, type NativeQueue, QUEUE_OPTION_LIMITS, loadNativeBinding } from '../src/index.js';
import { createFakeBinding } from './fake-native.js';
import { withNamespace } from '@nfq/test-kit';

/** What an error carries: its message and every own property the binding set. */
function shapeOf(action: () => unknown): Record<string, unknown> {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return { ...(error as object), message: (error as Error).message };
  }
  throw new Error('expected the call to throw');
}

/** Both bindings, each with what a case needs: the namespace to open queues in (none for the fake). */
function bindings(netns: string): Array<[name: string, binding: NativeBinding, netns: string | undefined]> {
  return [
    ['real', loadNativeBinding(), netns],
    ['fake', createFakeBinding().binding, undefined],
  ];
}

/** Runs `compare` on the real and the fake binding and expects the same error shape from both. */
async function expectSameError(cases: (binding: NativeBinding, netns: string | undefined) => Record<string, unknown>): Promise<void> {
  await withNamespace(async (ns) => {
    const [real, fake] = bindings(ns.name).map(([, binding, netns]) => cases(binding, netns));
    expect(fake).toEqual(real);
  });
}

describe('kernel: the fake binding raises errors as the real one does', () => {
  it('an option out of range', () =>
    expectSameError((binding, netns) =>
      shapeOf(() => binding.NativeQueue.open({ queue: 1, netns, receiveBufferSize: QUEUE_OPTION_LIMITS.receiveBufferSize.max + 1 })),
    ));

  it('a queue this process already holds (the message names its port id)', () =>
    expectSameError((binding, netns) => {
      const first = binding.NativeQueue.open({ queue: 3, netns });
      try {
        const shape = shapeOf(() => binding.NativeQueue.open({ queue: 3, netns }));
        expect(shape.ownerPortId).toBe(first.portId);
        return { ...shape, ownerPortId: 'the holder', message: String(shape.message).replace(`port id ${first.portId}`, 'port id of the holder') };
      } finally {
        first.close();
      }
    }));

  it('a closed queue asked for a verdict', () =>
    expectSameError((binding, netns) => {
      const queue: NativeQueue = binding.NativeQueue.open({ queue: 4, netns });
      queue.close();
      return shapeOf(() => queue.sendVerdicts(new Uint8Array(0)));
    }));

  it('reading what the socket holds while a reader thread owns it; none with the event-loop reader', () =>
    expectSameError((binding, netns) => {
      const threaded = binding.NativeQueue.open({ queue: 5, netns, readerThread: true });
      const onLoop = binding.NativeQueue.open({ queue: 6, netns });
      try {
        threaded.start(() => {});
        onLoop.start(() => {});
        threaded.stopReceiving(); // the reader thread is gone: the socket is readable again
        const whileThreaded = (() => {
          const again = binding.NativeQueue.open({ queue: 7, netns, readerThread: true });
          again.start(() => {});
          try {
            return shapeOf(() => again.receivePending());
          } finally {
            again.close();
          }
        })();
        return { whileThreaded, onLoop: onLoop.receivePending(), afterStop: threaded.receivePending() };
      } finally {
        threaded.close();
        onLoop.close();
      }
    }));

  it('a network namespace that does not exist', () => {
    expect(existsSync('/var/run/netns/nosuch')).toBe(false);
    return expectSameError((binding) => shapeOf(() => binding.boundQueues('nosuch')));
  });

  it('a user that does not exist (nothing is switched)', () => {
    const user = 'nfq-no-such-user';
    expect(() => execFileSync('getent', ['passwd', user])).toThrow();
    return expectSameError((binding) => shapeOf(() => binding.dropPrivileges!(user)));
  });
});

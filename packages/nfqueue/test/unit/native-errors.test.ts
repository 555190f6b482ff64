/**
 * Errors raised by the native side reach the user typed, naming what to fix: the option of an
 * InvalidArgument, a missing namespace, a missing user.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, dropPrivileges, openQueue, queueStats } from '../../src/index.js';
import { NamespaceError, UnknownUserError, fromNativeError } from '../../src/errors.js';
import { createFakeBinding, nativeError } from '../fake-native.js';

describe('errors from the native binding', () => {
  it('an InvalidArgument names its option, not "options"', async () => {
    const error = fromNativeError(
      nativeError('receive buffer size 0 is out of range', { code: 'EINVAL', kind: 'InvalidArgument', errno: 22, option: 'receiveBufferSize' }),
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('receiveBufferSize');
    expect(error.message).toBe('receiveBufferSize: receive buffer size 0 is out of range');
    const { binding } = createFakeBinding();
    await expect(openQueue({ queue: 1, receiveBufferSize: 2 ** 30 }, { binding })).resolves.toBeDefined();
  });

  it('queueStats throws for a namespace that does not exist, and lists nothing when nfnetlink_queue is not loaded', () => {
    const { binding } = createFakeBinding();
    const thrown = (() => {
      try {
        return queueStats({ netns: 'nosuch' }, { binding });
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(NamespaceError);
    expect(thrown).toMatchObject({ code: 'ENOENT' });
    expect((thrown as Error).message).toContain('ip netns list');
    expect(queueStats({ netns: 'unloaded' }, { binding })).toEqual([]);
  });

  it('dropPrivileges to a user that does not exist says there is no such user', () => {
    const { binding } = createFakeBinding();
    const thrown = (() => {
      try {
        return dropPrivileges('nosuch', { binding });
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(UnknownUserError);
    expect(thrown).toMatchObject({ code: 'ERR_UNKNOWN_USER', user: 'nosuch' });
    expect((thrown as Error).message).toContain("there is no user named 'nosuch'");
  });
});

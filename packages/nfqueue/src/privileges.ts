import { InvalidOptionError, fromNativeError } from './errors.js';
import { type NativeBinding, loadNativeBinding } from './native.js';

/**
 * Drops root once the queue is bound: switches the process to `user` (its uid, and its primary
 * group as the only group) and keeps just CAP_NET_ADMIN, which nfnetlink checks on every verdict
 * (a process that drops it too can no longer give verdicts, and its packets stay queued). Every
 * other capability leaves the bounding set as well.
 *
 * Call it after {@link openQueue}, on the thread that gives the verdicts (the main thread, or the
 * worker that opened the queue): the capability is kept on the calling thread only.
 *
 * ```js
 * const queue = await openQueue({ queue: 0 });
 * dropPrivileges('nobody');
 * ```
 */
export function dropPrivileges(user: string, dependencies: { binding?: NativeBinding } = {}): { uid: number; gid: number } {
  checkUserName(user);
  const binding = dependencies.binding ?? loadNativeBinding();
  if (!binding.dropPrivileges) throw new InvalidOptionError('user', 'this build of the binding cannot drop privileges');
  try {
    return binding.dropPrivileges(user);
  } catch (error) {
    throw fromNativeError(error);
  }
}

/** Throws {@link InvalidOptionError} unless `user` can be a user name. @internal */
export function checkUserName(user: unknown): asserts user is string {
  if (typeof user !== 'string' || user.length === 0 || user.includes('\0')) {
    throw new InvalidOptionError('user', `must be a user name such as 'nobody', got ${JSON.stringify(user)}`);
  }
}

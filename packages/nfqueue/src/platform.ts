/**
 * Imported first by the package entry: on a platform other than Linux, importing `@nfq/nfqueue`
 * fails at once with an error that says why, instead of a loader failure later (npm already
 * refuses to install it there, unless forced: its package.json says `"os": ["linux"]`).
 */
if (process.platform !== 'linux') {
  throw Object.assign(
    new Error(
      `@nfq/nfqueue works on Linux only: NFQUEUE is part of Linux's netfilter, and this is ${process.platform}. ` +
        'To decode or build nfnetlink_queue messages elsewhere, use @nfq/netlink, which has no native code.',
    ),
    { code: 'ERR_NFQUEUE_UNSUPPORTED_PLATFORM' },
  );
}

export {};

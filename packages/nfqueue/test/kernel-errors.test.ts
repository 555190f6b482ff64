/**
 * Kernel tests of the errors a user meets: each says what is wrong (the namespace, the missing
 * capability, the user, this process holding the queue) with a typed error and a stable code.
 */
import { describe, expect, it } from 'vitest';
import { type NativeQueueOptions, QUEUE_OPTION_LIMITS, QueueAlreadyBoundError, dropPrivileges, loadNativeBinding, openQueue, queueStats } from '../src/index.js';
import { NamespaceError, UnknownUserError } from '../src/errors.js';
import { run, withNamespace } from '@nfq/test-kit';

const dist = JSON.stringify(new URL('../dist/index.js', import.meta.url).href);

/** Runs `script` (an ES module) in a Node process that is root but lacks CAP_SYS_ADMIN (and keeps CAP_NET_ADMIN). */
function withoutSysAdmin(script: string, ...args: string[]): Promise<string> {
  return run('setpriv', ['--inh-caps=-all', '--bounding-set=-sys_admin', process.execPath, '--input-type=module', '-e', script, ...args]);
}

describe('kernel: errors name the problem', () => {
  it('binding a queue this process already holds says this process holds it', () =>
    withNamespace(async (ns) => {
      const first = await openQueue({ queue: 31, netns: ns.name });
      ns.defer(() => first.close());
      const refused = await openQueue({ queue: 31, netns: ns.name }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(QueueAlreadyBoundError);
      expect((refused as Error).message).toContain(`queue 31 is already bound by this process (pid ${process.pid}`);
      expect((refused as Error).message).not.toContain('another process');
    }));

  it('the binding itself refuses numbers that a u32 would wrap or round into range, naming the option, and binds nothing', () =>
    withNamespace(async (ns) => {
      const binding = loadNativeBinding();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ queue: 2 ** 32 + 33 }, 'queue'],
        [{ queue: 33.5 }, 'queue'],
        [{ queue: 33, copyRange: -1 }, 'copyRange'],
        [{ queue: 33, batchSize: 2 ** 32 + 8 }, 'batchSize'],
        [{ queue: 33, maxLen: Number.NaN }, 'maxLen'],
        [{ queue: 33, readerNice: 2 ** 32 - 1 }, 'readerNice'],
        [{ queue: 33, readerCpus: [-1] }, 'readerCpus'],
      ];
      for (const [options, option] of cases) {
        const limit = QUEUE_OPTION_LIMITS[option as keyof typeof QUEUE_OPTION_LIMITS];
        let refused: unknown;
        try {
          binding.NativeQueue.open({ netns: ns.name, ...options } as unknown as NativeQueueOptions).close();
        } catch (error) {
          refused = error;
        }
        expect(refused, JSON.stringify(options)).toMatchObject({ code: 'EINVAL', kind: 'InvalidArgument', option });
        expect((refused as Error).message).toBe(`must be ${limit.what} from ${limit.min} to ${limit.max}, got ${String(Object.values(options).at(-1))}`);
      }
      expect(queueStats({ netns: ns.name })).toEqual([]); // nothing was bound
    }));

  it('accepts a receive buffer of 2^30 bytes, the largest the options allow', () =>
    withNamespace(async (ns) => {
      const queue = await openQueue({ queue: 32, netns: ns.name, receiveBufferSize: 2 ** 30 });
      await queue.close();
    }));

  it('a namespace that does not exist: openQueue and queueStats say so', async () => {
    const name = `nfqt-missing-${process.pid}`;
    const opened = await openQueue({ queue: 33, netns: name }).catch((error: unknown) => error);
    expect(opened).toBeInstanceOf(NamespaceError);
    expect(opened).toMatchObject({ code: 'ENOENT' });
    expect((opened as Error).message).toContain(`network namespace ${name} does not exist`);
    let listed: unknown;
    try {
      listed = queueStats({ netns: name });
    } catch (error) {
      listed = error;
    }
    expect(listed).toBeInstanceOf(NamespaceError);
    expect((listed as Error).message).toContain('ip netns list');
  });

  it('a path that is not a network namespace says so, for openQueue and queueStats', async () => {
    for (const path of ['/tmp', '/etc/hostname']) {
      const opened = await openQueue({ queue: 33, netns: path }).catch((error: unknown) => error);
      expect(opened).toBeInstanceOf(NamespaceError);
      expect(opened).toMatchObject({ code: 'EINVAL' });
      expect((opened as Error).message).toContain(`${path} is not a network namespace`);
      expect(() => queueStats({ netns: path })).toThrow(/is not a network namespace/);
    }
  });

  it('without CAP_SYS_ADMIN, entering a namespace is named as what needs the capability', () =>
    withNamespace(async (ns) => {
      const output = await withoutSysAdmin(
        `
        const { openQueue, queueStats } = await import(${dist});
        const describe = (error) => ({ name: error.name, code: error.code, message: error.message });
        const opened = await openQueue({ queue: 34, netns: process.argv[1] }).then(() => null, describe);
        let listed;
        try { listed = queueStats({ netns: process.argv[1] }); } catch (error) { listed = describe(error); }
        console.log(JSON.stringify({ opened, listed }));
      `,
        ns.name,
      );
      const { opened, listed } = JSON.parse(output) as Record<string, { name: string; code: string; message: string }>;
      for (const error of [opened!, listed!]) {
        expect(error).toMatchObject({ name: 'NamespaceError', code: 'EPERM' });
        expect(error.message).toContain(`entering network namespace ${ns.name} needs CAP_SYS_ADMIN`);
      }
    }));

  it('a receive-side failure reaches JavaScript with the errno name as code (reader thread tuning refused)', () =>
    withNamespace(async (ns) => {
      // A negative nice value needs CAP_SYS_NICE: the reader thread's tuning fails and is reported.
      const output = await run('setpriv', [
        '--inh-caps=-all', '--bounding-set=-sys_nice', process.execPath, '--input-type=module', '-e',
        `
        const { openQueue } = await import(${dist});
        const queue = await openQueue({ queue: 35, netns: process.argv[1], readerThread: true, readerNice: -5 });
        const error = await new Promise((resolve) => queue.once('error', resolve));
        await queue.close();
        console.log(JSON.stringify({ name: error.name, code: error.code, errno: error.errno, message: error.message }));
      `,
        ns.name,
      ]);
      const error = JSON.parse(output) as { name: string; code: string; errno: number; message: string };
      expect(error.name).toBe('KernelError');
      expect(['EACCES', 'EPERM']).toContain(error.code);
      expect(error.errno).toBeGreaterThan(0);
      expect(error.message).toContain('nice value');
    }));

  it('dropPrivileges to a user that does not exist says there is no such user', () => {
    let thrown: unknown;
    try {
      dropPrivileges('nfq-no-such-user');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnknownUserError);
    expect(thrown).toMatchObject({ code: 'ERR_UNKNOWN_USER', user: 'nfq-no-such-user' });
    expect((thrown as Error).message).toContain("there is no user named 'nfq-no-such-user'");
  });
});

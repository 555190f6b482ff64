/**
 * Faults on the real kernel: resources do not leak over many open/close cycles, and a
 * process killed with SIGKILL leaves nothing bound. Each test in its own network namespace.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openQueue } from '../src/index.js';
import { boundQueues, sleep, startProcess, withNamespace } from '@nfq/test-kit';

describe('kernel: faults', () => {
  it('leaks no file descriptor or thread over 1,000 open/close cycles', { timeout: 60_000 }, () =>
    withNamespace(async (ns) => {
      const fds = (): number => readdirSync('/proc/self/fd').length;
      const threads = (): number => readdirSync('/proc/self/task').length;
      // One cycle first: the binding loads and the thread pool settles.
      await (await openQueue({ queue: 20, netns: ns.name })).close();
      const before = { fds: fds(), threads: threads() };
      for (let cycle = 0; cycle < 1000; cycle++) {
        const queue = await openQueue({ queue: 20 + (cycle % 3), netns: ns.name, drainTimeout: 0 });
        await queue.close();
      }
      expect({ fds: fds(), threads: threads() }).toEqual(before);
      expect(await boundQueues(ns.name)).toEqual([]);
    }));

  it('after kill -9 nothing stays bound, and a new process binds the queue at once', { timeout: 20_000 }, () =>
    withNamespace(async (ns) => {
      const script = `
        const { openQueue } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
        const queue = await openQueue({ queue: 30, netns: process.argv[1] });
        queue.on('packet', (p) => p.accept());
        console.log('bound');`;
      const child = startProcess(process.execPath, ['--input-type=module', '-e', script, ns.name]);
      await child.waitForOutput('bound');
      expect(await boundQueues(ns.name)).toEqual([30]);
      await child.stop('SIGKILL');
      expect(await boundQueues(ns.name)).toEqual([]); // the kernel unbound it with the socket
      const again = await openQueue({ queue: 30, netns: ns.name });
      expect(await boundQueues(ns.name)).toEqual([30]);
      await again.close();
      await sleep(10);
    }));
});

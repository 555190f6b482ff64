/**
 * Faults on the real kernel: resources do not leak over many open/close cycles, and a
 * process killed with SIGKILL leaves nothing bound. Each test in its own network namespace.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openQueue } from '../src/index.js';
import { run, sleep, withNamespace } from './netns.js';

const boundQueues = async (ns: string): Promise<number[]> =>
  (await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netfilter/nfnetlink_queue']))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => Number(line.trim().split(/\s+/)[0]));

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
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, ns.name], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      expect(await boundQueues(ns.name)).toEqual([30]);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      expect(await boundQueues(ns.name)).toEqual([]); // the kernel unbound it with the socket
      const again = await openQueue({ queue: 30, netns: ns.name });
      expect(await boundQueues(ns.name)).toEqual([30]);
      await again.close();
      await sleep(10);
    }));
});

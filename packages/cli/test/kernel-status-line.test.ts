/**
 * The live status line on a real terminal: `nf-queue` runs in a tmux pane (stdout and stderr the
 * same terminal) while about 1,000 packets/s flow, and the pane, read with `tmux capture-pane`,
 * shows the status line below the packet lines with a packets/s that is not 0. Needs root and
 * tmux (scripts/setup.sh installs it); never skipped. Run after `npx tsc -p packages/cli`.
 */
import { afterEach, expect, it } from 'vitest';
import { killStartedProcesses, numberedPayloads, queueUdpTo, run, sleep, udpReceiver, udpSend, until, waitBound, withNamespace } from '@nfq/test-kit';
import { PORT, bin } from './nf-queue.js';

afterEach(killStartedProcesses);

it('on a terminal, the status line stays below the packet lines and tells a rate above 0 while packets flow', { timeout: 40_000 }, () =>
  withNamespace(async (namespace) => {
    const ns = namespace.name;
    const server = `nfq-status-${process.pid}-${ns}`;
    const tmux = (...args: string[]): Promise<string> => run('tmux', ['-L', server, ...args]);
    await queueUdpTo(ns, PORT, 11);
    const receiver = await udpReceiver(namespace, PORT);
    try {
      await tmux('-f', '/dev/null', 'new-session', '-d', '-x', '160', '-y', '30', process.execPath, bin, '--netns', ns, '11');
      await waitBound(ns, [11], () => '', 10_000);
      // About 1,000 datagrams a second for about 5 s: one, then a rest of 1 ms.
      const sending = udpSend(ns, PORT, numberedPayloads(5000), { restEvery: 1 });
      await until(() => receiver.received.length >= 1500, { timeoutMs: 10_000 });
      const seen: string[] = [];
      for (let capture = 0; capture < 5 && receiver.received.length < 4500; capture++) {
        const rows = (await tmux('capture-pane', '-p')).split('\n').filter((row) => row.trim() !== '');
        seen.push(rows.at(-1) ?? '');
        await sleep(300);
      }
      expect(seen.length).toBeGreaterThanOrEqual(3);
      // The last row of the pane is the status line (not a packet line), with the packets flowing now.
      const showing = seen.filter((row) => /^nf-queue: [1-9]\d* packets\/s, \d+ packets, \d+ accepted, 0 dropped/.test(row));
      // It is drawn again right after each batch of packet lines: a capture may fall between the
      // two on a loaded machine, but not every one.
      expect(showing.length, seen.join('\n')).toBeGreaterThanOrEqual(1);
      // A rate (non-zero, by the pattern above), not the running total; how fast depends on the sender.
      for (const row of showing) {
        const [, rate, total] = /^nf-queue: (\d+) packets\/s, (\d+) packets/.exec(row)!.map(Number);
        expect(rate, row).toBeLessThanOrEqual(total!);
      }
      await sending;
      await tmux('send-keys', 'C-c');
      await until(async () => (await run('tmux', ['-L', server, 'list-sessions']).catch(() => '')) === '', { timeoutMs: 10_000 });
    } finally {
      await run('tmux', ['-L', server, 'kill-server']).catch(() => undefined);
    }
  }),
);

/**
 * The summary's kernel drops under a flood when stdout's reader goes away (`nf-queue | head -1`):
 * the socket keeps overflowing while the command shuts down, and those drops count too. With
 * --queue-bypass and the default verdict accept, every datagram is either accepted (by a verdict,
 * by fail-open while closing, or by bypass once unbound) and arrives, or dropped by the kernel:
 * what never arrived is exactly what the summary says the kernel dropped.
 */
import { afterEach, expect, it } from 'vitest';
import { iptables, killStartedProcesses, queueTable, queueUdpTo, ruleCounter, sleep, udpFlood, withNamespace } from '@nfq/test-kit';
import { PORT, startCli, waitCliBound } from './nf-queue.js';

const SUMMARY =
  /^nf-queue: (\d+) packets: (\d+) accepted, (\d+) dropped[^;]*; (?:(\d+) dropped by the kernel \((\d+) queue full, (\d+) socket full\); )?(\d+) overrun events?; .*$/;

afterEach(killStartedProcesses);

for (const balance of [false, true]) {
  const name = balance ? '--queue-balance 5:6 --json' : 'queue 5';
  it(`a flood into a tiny receive buffer, stdout closed by its reader (${name}): the kernel drops in the summary are every datagram that never arrived`, { timeout: 60_000 }, () =>
    withNamespace(async ({ name: ns }) => {
      const queues = balance ? [5, 6] : [5];
      await queueUdpTo(ns, PORT, balance ? '5:6' : 5, '--queue-bypass');
      // No socket listens: INPUT's rule counts what arrives (a receiver would fall behind the flood).
      await iptables(ns, '-A', 'INPUT', '-p', 'udp', '--dport', String(PORT), '-j', 'ACCEPT');
      const args = ['--netns', ns, '--rcvbuf', '1', ...(balance ? ['--json', '--queue-balance', '5:6'] : ['5'])];
      const cli = startCli(args);
      const { child, exited } = cli;
      // The reader takes the first chunk and closes its end, as `head -1` does.
      child.stdout!.once('data', () => child.stdout!.destroy());
      await waitCliBound(ns, cli, ...queues);
      // The flood runs through the whole shutdown, and on after the command exited.
      const sources = balance ? ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'] : ['127.0.0.2'];
      const floods = sources.map((source) => udpFlood(ns, PORT, source));
      let exit: number | null;
      try {
        exit = await exited;
        expect(await queueTable(ns)).toEqual([]); // unbound: what the flood sends from now on passes
        await sleep(100);
      } finally {
        await Promise.all(floods.map((sender) => sender.stop()));
      }
      const stderr = cli.stderr();
      expect(exit, stderr).toBe(0);

      expect(stderr).not.toMatch(/^\s+at |Error:|Uncaught|node:internal/m);
      const match = SUMMARY.exec(stderr.trim().split('\n').at(-1)!);
      expect(match, stderr).not.toBeNull();
      const [packets, accepted] = [Number(match![1]), Number(match![2])];
      const kernelDrops = match![4] === undefined ? 0 : Number(match![4]);
      expect(accepted).toBe(packets);

      // Every datagram went through the NFQUEUE rule (the first of OUTPUT); those accepted passed INPUT's.
      const sent = await ruleCounter(ns, 'filter', 'OUTPUT', 'NFQUEUE');
      const arrived = await ruleCounter(ns, 'filter', 'INPUT', `udp dpt:${PORT}`);
      expect(arrived).toBeGreaterThan(packets); // the verdicts, then fail-open and bypass passes
      expect(sent - arrived, `the flood overflowed the socket: ${stderr}`).toBeGreaterThan(0);
      expect(kernelDrops, `${sent - arrived} of ${sent} never arrived; ${stderr}`).toBe(sent - arrived);
    }),
  );
}

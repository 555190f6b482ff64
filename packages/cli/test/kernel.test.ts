/**
 * The real command on the real kernel: `nf-queue --netns NS --count N QUEUE` in a private
 * network namespace with its own iptables rule, fed real UDP. Needs root; never skipped.
 */
import { afterEach, expect, it } from 'vitest';
import { asNobody, inNamespace, killStartedProcesses, numberedPayloads, queueUdpTo, runResult, udpReceiver, udpSend, withNamespace } from '@nfq/test-kit';
import { PORT, bin, startCli, waitCliBound } from './nf-queue.js';

afterEach(killStartedProcesses);

it('prints one nf-queue.c line per packet, accepts each and exits 0 after --count', { timeout: 20_000 }, () =>
  withNamespace(async (namespace) => {
    const ns = namespace.name;
    await queueUdpTo(ns, PORT, 3);
    const receiver = await udpReceiver(namespace, PORT);
    const cli = startCli(['--netns', ns, '--count', '5', '3']);
    await waitCliBound(ns, cli, 3);
    await udpSend(ns, PORT, numberedPayloads(5));
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(await receiver.waitFor(5)).toHaveLength(5);
    const lines = cli.stdout().trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toMatch(/^packet received \(id=\d+ hw=0x0800 hook=3, payload len 38(, checksum not ready)?\)$/);
    }
  }),
);

it('says that it needs CAP_NET_ADMIN when run without it, and exits 1', () =>
  withNamespace(async ({ name: ns }) => {
    const failed = await runResult('ip', inNamespace(ns, ...asNobody('--inh-caps=-all', '--bounding-set=-all'), process.execPath, bin, '4'));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('CAP_NET_ADMIN');
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
  }));

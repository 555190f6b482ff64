/**
 * Checks the kit itself against the real kernel (no queue involved), so that a failing kernel
 * test points at the queue, not at its test harness.
 */
import { describe, expect, it } from 'vitest';
import {
  boundQueues,
  iptables,
  listNamespaces,
  numberedPayloads,
  ruleCounter,
  run,
  runResult,
  snmpCounters,
  startProcess,
  udpReceiver,
  udpSend,
  withNamespace,
} from '../src/index.js';

const PORT = 9999;

describe('namespace helpers (real kernel)', () => {
  it('carries UDP inside a namespace and deletes the namespace afterwards', async () => {
    let name = '';
    await withNamespace(async (ns) => {
      name = ns.name;
      expect(name).toMatch(new RegExp(`^nfqt-${process.pid}-[0-9a-f]{8}$`));
      expect(await listNamespaces()).toContain(ns.name);
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      const errors = await udpSend(ns.name, PORT, [Buffer.from('one'), Buffer.from('two')]);
      expect(errors).toEqual([null, null]);
      const received = await receiver.waitFor(2);
      expect(received.map((datagram) => datagram.toString())).toEqual(['one', 'two']);
      expect(await boundQueues(ns.name)).toEqual([]);
    });
    expect(await listNamespaces()).not.toContain(name);
  });

  it('deletes the namespace when the test body fails', async () => {
    let name = '';
    await expect(
      withNamespace(async (ns) => {
        name = ns.name;
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    expect(await run('ip', ['netns', 'list'])).not.toContain(name);
  });

  it('reads iptables rule counters and the UDP counters', async () => {
    await withNamespace(async (ns) => {
      await iptables(ns.name, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '0');
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      await udpSend(ns.name, PORT, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
      await receiver.waitFor(3);
      expect(await ruleCounter(ns.name, 'mangle', 'POSTROUTING', 'mark match 0x0')).toBe(3);
      expect((await snmpCounters(ns.name)).InDatagrams).toBe(3);
    });
  });

  it('sends from several sources in turn, on fresh sockets, several at once', async () => {
    await withNamespace(async (ns) => {
      const receiver = await udpReceiver(ns.name, PORT);
      ns.defer(() => receiver.close());
      for (const source of ['127.0.0.2', '127.0.0.3']) await iptables(ns.name, '-A', 'INPUT', '-s', source, '-p', 'udp', '--dport', String(PORT));
      const payloads = numberedPayloads(6, 'n ', ' ', 20);
      expect(payloads[1]!.toString()).toBe('n 1 xxxxxxxxxxxxxxxx');
      const options = { source: ['127.0.0.2', '127.0.0.3'], perSocket: 2, inFlight: 3, restEvery: 2 };
      expect(await udpSend(ns.name, PORT, payloads, options)).toEqual(Array(6).fill(null));
      expect((await receiver.waitFor(6)).map(String).sort()).toEqual(payloads.map(String).sort());
      expect(await ruleCounter(ns.name, 'filter', 'INPUT', '127.0.0.2')).toBe(3);
      expect(await ruleCounter(ns.name, 'filter', 'INPUT', '127.0.0.3')).toBe(3);
    });
  });
});

describe('child processes', () => {
  it('collects output, waits for it, and reports the exit code', async () => {
    const child = startProcess(process.execPath, ['-e', 'console.log(JSON.stringify({ ready: true })); console.error("warned"); setTimeout(() => process.exit(3), 50)']);
    await child.waitForOutput('ready');
    await child.waitForOutput(/warned/, { stream: 'stderr' });
    expect(child.jsonLines()).toEqual([{ ready: true }]);
    expect(await child.exited).toBe(3);
    await expect(startProcess(process.execPath, ['-e', '']).waitForOutput('never')).rejects.toThrow(/exited \(0\) before printing never/);
  });

  it('stop() signals a running process; runResult gives the status of a failing command', async () => {
    const child = startProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    expect(await child.stop('SIGKILL')).toBeNull();
    expect(await runResult(process.execPath, ['-e', 'console.log("out"); console.error("err"); process.exit(2)'])).toEqual({ code: 2, stdout: 'out\n', stderr: 'err\n' });
    await expect(run(process.execPath, ['-e', 'console.error("broken"); process.exit(1)'])).rejects.toThrow(/failed \(1\): broken/);
  });
});

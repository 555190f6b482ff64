/**
 * `nf-queue stats`, `doctor` and `demo` on the real kernel, each in network namespaces of its
 * own (removed on every path). Needs root; never skipped.
 */
import { UnsupportedError, openQueue } from '@nfq/nfqueue';
import { afterEach, expect, it } from 'vitest';
import { asNobody, killStartedProcesses, listNamespaces as namespaces, run, runResult, withNamespace } from '@nfq/test-kit';
import { bin, nfQueue, startCli } from './nf-queue.js';

afterEach(killStartedProcesses);

/** Runs `body` with the name of a fresh namespace, deleted afterwards whatever happens. */
const withNamespaceName = <T>(body: (ns: string) => Promise<T>): Promise<T> => withNamespace(({ name }) => body(name));

it('stats --netns NS --json lists the queue this test holds there, with its port id and our pid', { timeout: 20_000 }, async () => {
  await withNamespaceName(async (ns) => {
    const queue = await openQueue({ queue: 5, netns: ns, copyMode: 'meta' });
    try {
      const { code, stdout, stderr } = await nfQueue(['stats', '--netns', ns, '--json']);
      expect(code, stderr).toBe(0);
      const rows = JSON.parse(stdout) as Array<Record<string, unknown>>;
      expect(rows).toEqual([
        {
          queue: 5,
          portId: queue.portId,
          pid: process.pid,
          command: expect.any(String),
          waiting: 0,
          copyMode: 'meta',
          copyRange: expect.any(Number),
          queueDropped: 0,
          userDropped: 0,
          idSequence: 0,
        },
      ]);
      const table = await nfQueue(['stats', '--netns', ns]);
      expect(table.code).toBe(0);
      const lines = table.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^queue\s+port id\s+pid\s+command/);
      expect(lines[1]!.trim().split(/\s+/).slice(0, 3)).toEqual(['5', String(queue.portId), String(process.pid)]);
    } finally {
      await queue.close();
    }
    // Closed: the namespace is empty again.
    expect(JSON.parse((await nfQueue(['stats', '--netns', ns, '--json'])).stdout)).toEqual([]);
  });
});

it('stats in an empty namespace lists nothing and says so, exit 0', { timeout: 20_000 }, async () => {
  await withNamespaceName(async (ns) => {
    const text = await nfQueue(['stats', '--netns', ns]);
    expect(text).toEqual({ code: 0, stdout: `no queue is bound in network namespace ${ns}\n`, stderr: '' });
    const json = await nfQueue(['stats', '--netns', ns, '--json']);
    expect(json).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
  });
  const gone = await nfQueue(['stats', '--netns', `nfqt-cmd-absent-${process.pid}`]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toBe(`nf-queue stats: no network namespace nfqt-cmd-absent-${process.pid} (see ip netns list)\n`);
});

it('stats without root says in one line what it needs, exit 1, no stack trace (host and --netns)', { timeout: 20_000 }, async () => {
  const unprivileged = (args: string[]) => {
    const [setpriv, ...options] = asNobody('--inh-caps=-all');
    return runResult(setpriv!, [...options, process.execPath, bin, ...args], { timeout: 15_000 });
  };
  await withNamespaceName(async (ns) => {
    const queue = await openQueue({ queue: 5, netns: ns }); // a queue is bound: the command must not say there is none
    try {
      const host = await unprivileged(['stats']);
      expect(host.code, host.stderr).toBe(1);
      expect(host.stdout).toBe('');
      expect(host.stderr).toMatch(/^nf-queue stats: \/proc\/net\/netfilter\/nfnetlink_queue is readable by root only: run as root[^\n]*\n$/);
      for (const args of [['stats', '--netns', ns], ['stats', '--netns', ns, '--json']]) {
        const inside = await unprivileged(args);
        expect(inside.code, inside.stderr).toBe(1);
        expect(inside.stdout).toBe('');
        expect(inside.stderr).toMatch(new RegExp(`^nf-queue stats: [^\\n]*entering network namespace ${ns} needs CAP_SYS_ADMIN[^\\n]*\\n$`));
      }
    } finally {
      await queue.close();
    }
  });
});

it('doctor --json reports what this kernel does, the conntrack flag as openQueue itself finds it, exit 0', { timeout: 30_000 }, async () => {
  await withNamespaceName(async (ns) => {
    let conntrackSupported: boolean;
    try {
      const queue = await openQueue({ queue: 9, netns: ns, conntrack: true });
      await queue.close();
      conntrackSupported = true;
    } catch (error) {
      expect(error).toBeInstanceOf(UnsupportedError);
      conntrackSupported = false;
    }

    const { code, stdout, stderr } = await nfQueue(['doctor', '--netns', ns, '--json'], { timeout: 25_000 });
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as { ready: boolean; checks: Array<{ id: string; status: string; detail: string }> };
    expect(report.ready).toBe(true);
    const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({ nfnetlink_queue: 'ok', cap_net_admin: 'ok', iptables: 'ok', ip: 'ok', kernel: 'ok', bind: 'ok', 'flag:failOpen': 'ok' });
    expect(status['flag:conntrack']).toBe(conntrackSupported ? 'ok' : 'missing');
    const version = await run('iptables', ['--version']);
    expect(report.checks.find((c) => c.id === 'iptables')!.detail).toContain(version.includes('nf_tables') ? 'nf_tables variant' : 'legacy variant');
    expect(['ok', 'missing']).toContain(status.nft_queue); // nft is installed here: probed, one answer or the other
    // The probes left nothing behind: no queue bound in NS, no probe namespace.
    expect(JSON.parse((await nfQueue(['stats', '--netns', ns, '--json'])).stdout)).toEqual([]);
    expect((await namespaces()).filter((name) => name.startsWith('nfqdoctor-'))).toEqual([]);
  });
});

it('demo runs, shows packets verdicted live, exits 0 within 20 s and leaves no namespace behind', { timeout: 30_000 }, async () => {
  const before = await namespaces();
  const started = Date.now();
  const demo = startCli(['demo']);
  const timer = setTimeout(() => demo.child.kill('SIGINT'), 20_000);
  const code = await demo.exited;
  clearTimeout(timer);
  const [stdout, stderr] = [demo.stdout(), demo.stderr()];
  expect(code, stderr).toBe(0);
  expect(Date.now() - started).toBeLessThan(20_000);

  const namespace = /made network namespace (\S+)/.exec(stdout)?.[1];
  expect(namespace).toMatch(/^nfq-demo-\d+-[0-9a-f]{6}$/);
  const packets = stdout.split('\n').filter((line) => line.startsWith('packet received'));
  expect(packets.length).toBeGreaterThanOrEqual(5);
  for (const line of packets) expect(line).toMatch(/^packet received \(id=\d+ hw=0x0800 hook=3, payload len \d+.*\)  (UDP|ICMP) .* -> (accept|drop)$/);
  expect(packets.some((line) => line.endsWith('-> drop'))).toBe(true);
  expect(packets.some((line) => line.includes('ICMP 127.0.0.1 > 127.0.0.1 type 3 code 3'))).toBe(true);
  expect(stdout).toMatch(new RegExp(`demo: ${packets.length} packets verdicted in [\\d.]+ s: \\d+ accepted, \\d+ dropped`));

  const after = await namespaces();
  expect(after).not.toContain(namespace);
  expect(after.filter((name) => !before.includes(name) && name.startsWith('nfq-demo-'))).toEqual([]);
});

it('demo interrupted by SIGINT still deletes its namespace', { timeout: 30_000 }, async () => {
  const demo = startCli(['demo']);
  await demo.waitForOutput('packet received', { timeoutMs: 20_000 });
  demo.child.kill('SIGINT'); // mid-traffic, the queue open
  const code = await demo.exited;
  const [stdout, stderr] = [demo.stdout(), demo.stderr()];
  expect(code, stderr).toBe(130);
  expect(stderr).toContain('nf-queue demo: SIGINT: cleaning up');
  const namespace = /made network namespace (\S+)/.exec(stdout)?.[1];
  expect(namespace).toBeDefined();
  expect(await namespaces()).not.toContain(namespace);
});

/**
 * `nf-queue --handler FILE` on the real kernel, one private network namespace per test: the
 * policy's verdicts and marks as the receiver and an iptables mark rule see them, a failing
 * policy (the default verdict, counted, one stderr line), an async policy, `--queue-balance`
 * (the policy in every worker), and SIGHUP reloading the file mid-run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  type UdpReceiver,
  iptables,
  killStartedProcesses,
  numberedPayloads,
  queueUdpTo,
  ruleCounter,
  udpReceiver,
  udpSend,
  until,
  withNamespace,
} from '@nfq/test-kit';
import { PORT, nfQueue, startCli, waitCliBound } from './nf-queue.js';
import { SUMMARY } from './summary.js';

afterEach(killStartedProcesses);

let directory: string;
beforeAll(async () => void (directory = await mkdtemp(join(tmpdir(), 'nfq-kernel-policy-'))));
afterAll(() => rm(directory, { recursive: true, force: true }));

/** Writes a policy module `name` with `source`; resolves with its path. */
async function policy(name: string, source: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, source);
  return path;
}

/** The datagram's text (`datagram N`), after the IPv4 and UDP headers: what the policies decide on. */
const TEXT = 'const text = (packet) => packet.payload.subarray(28).toString();\n';

function withReceiver(body: (ns: string, receiver: UdpReceiver) => Promise<void>): Promise<void> {
  return withNamespace(async (namespace) => body(namespace.name, await udpReceiver(namespace, PORT)));
}

/** Sends datagrams `datagram FIRST`... (`count` of them) to PORT, from `sources` in turn when given. */
function sendUdp(ns: string, count: number, first = 0, sources: string[] = []): Promise<unknown> {
  const payloads = numberedPayloads(first + count).slice(first);
  return udpSend(ns, PORT, payloads, sources.length > 0 ? { source: sources } : {});
}

/** The summary (the last stderr line), parsed, with the handler errors it names. */
function summary(stderr: string): { packets: number; accepted: number; dropped: number; handlerErrors: number } {
  const last = stderr.trim().split('\n').at(-1)!;
  const match = SUMMARY.exec(last);
  expect(match, stderr).not.toBeNull();
  return { packets: Number(match![1]), accepted: Number(match![2]), dropped: Number(match![3]), handlerErrors: Number(/handler error (\d+)/.exec(last)?.[1] ?? 0) };
}

const received = (receiver: UdpReceiver): string[] => receiver.received.map((datagram) => datagram.toString()).sort();

it('a sync policy: its drops do not arrive, its accepts arrive with its mark; setup(context) ran first; --json lines claim no verdict', { timeout: 20_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy(
      'odd-drop.mjs',
      `${TEXT}export function setup(context) { console.error('setup ' + JSON.stringify(context)); }
export default (packet) => (Number(text(packet).split(' ')[1]) % 2 === 1 ? 'drop' : { accept: { mark: 7 } });
`,
    );
    await queueUdpTo(ns, PORT, 3);
    await iptables(ns, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '7');
    const cli = startCli(['--netns', ns, '--handler', file, '--count', '6', '--json', '3']);
    await waitCliBound(ns, cli, 3);
    await sendUdp(ns, 6);
    expect(await cli.exited, cli.stderr()).toBe(0);
    // Each line is printed before the policy decides: it carries no verdict of its own.
    const printed = cli.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(printed).toHaveLength(6);
    for (const line of printed) expect(line).not.toHaveProperty('verdict');
    await receiver.waitFor(3);
    expect(received(receiver)).toEqual(['datagram 0', 'datagram 2', 'datagram 4']);
    expect(await ruleCounter(ns, 'mangle', 'POSTROUTING', 'mark match 0x7')).toBe(3);
    const lines = cli.stderr().trim().split('\n');
    expect(lines[0]).toBe(`setup {"queue":3,"defaultVerdict":"accept","netns":"${ns}","reload":0}`);
    expect(lines).toHaveLength(2);
    expect(summary(cli.stderr())).toEqual({ packets: 6, accepted: 3, dropped: 3, handlerErrors: 0 });
  }),
);

it('a policy that throws or returns no verdict: those packets get --verdict, are counted, and one line says why', { timeout: 20_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy(
      'broken.mjs',
      `${TEXT}export default (packet) => {
  const n = Number(text(packet).split(' ')[1]);
  if (n === 1) throw new Error('policy bug ' + n);
  if (n === 2) return 'nope';
  if (n === 3) return undefined;
  return 'accept';
};
`,
    );
    await queueUdpTo(ns, PORT, 4);
    const cli = startCli(['--netns', ns, '--handler', file, '--verdict', 'drop', '--count', '6', '-q', '4']);
    await waitCliBound(ns, cli, 4);
    await sendUdp(ns, 6);
    expect(await cli.exited, cli.stderr()).toBe(0);
    await receiver.waitFor(3);
    expect(received(receiver)).toEqual(['datagram 0', 'datagram 4', 'datagram 5']);
    const lines = cli.stderr().trim().split('\n');
    expect(lines, cli.stderr()).toHaveLength(2); // the first error, then the summary
    expect(lines[0]).toMatch(/^nf-queue: the handler failed for packet \d+ \(policy bug 1\); it got the default verdict \(drop\) \(further handler errors are counted/);
    expect(summary(cli.stderr())).toEqual({ packets: 6, accepted: 3, dropped: 3, handlerErrors: 3 });
  }),
);

it('an async policy: verdicts once it resolves (returned, or given by the packet), and a rejection gets the default verdict', { timeout: 20_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy(
      'async.mjs',
      `${TEXT}const later = () => new Promise((resolve) => setTimeout(resolve, 5));
export default async (packet) => {
  await later();
  const n = Number(text(packet).split(' ')[1]);
  if (n === 0) { packet.accept(); return; }
  if (n === 1) return 'drop';
  if (n === 2) throw new Error('async policy bug');
  return { accept: {} };
};
`,
    );
    await queueUdpTo(ns, PORT, 5);
    const cli = startCli(['--netns', ns, '--handler', file, '--count', '4', '-q', '5']);
    await waitCliBound(ns, cli, 5);
    await sendUdp(ns, 4);
    expect(await cli.exited, cli.stderr()).toBe(0);
    await receiver.waitFor(3);
    expect(received(receiver)).toEqual(['datagram 0', 'datagram 2', 'datagram 3']);
    expect(cli.stderr()).toMatch(/async policy bug/);
    expect(summary(cli.stderr())).toEqual({ packets: 4, accepted: 3, dropped: 1, handlerErrors: 1 });
  }),
);

it('SIGHUP reloads the policy mid-run: accept, then drop; a broken file keeps the running policy', { timeout: 30_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy('reloaded.mjs', `export default () => 'accept';\n`);
    await queueUdpTo(ns, PORT, 6);
    const cli = startCli(['--netns', ns, '--handler', file, '-q', '6']);
    await waitCliBound(ns, cli, 6);
    await sendUdp(ns, 2);
    expect(await receiver.waitFor(2)).toHaveLength(2);
    await writeFile(file, `export function setup(context) { console.error('setup, reload ' + context.reload); }\nexport default () => 'drop';\n`);
    cli.child.kill('SIGHUP');
    await cli.waitForOutput(`nf-queue: reloaded the policy ${file}`, { stream: 'stderr' });
    expect(cli.stderr()).toContain('setup, reload 1');
    await sendUdp(ns, 2, 2);
    await writeFile(file, 'export default () => { this is not JavaScript');
    cli.child.kill('SIGHUP');
    await cli.waitForOutput('the running policy stays', { stream: 'stderr' });
    expect(cli.stderr()).toMatch(new RegExp(`nf-queue: the policy ${file} could not be loaded: .*; the running policy stays`));
    await sendUdp(ns, 2, 4);
    await until(async () => {
      const rows = await iptables(ns, '-L', 'OUTPUT', '-v', '-x', '-n');
      return /^\s*6\s/m.test(rows);
    }, { what: () => 'six datagrams queued' });
    expect(await cli.stop('SIGTERM'), cli.stderr()).toBe(0);
    expect(received(receiver)).toEqual(['datagram 0', 'datagram 1']);
    expect(summary(cli.stderr())).toEqual({ packets: 6, accepted: 2, dropped: 4, handlerErrors: 0 });
  }),
);

it('without --handler, SIGHUP still ends the run gracefully', { timeout: 20_000 }, () =>
  withReceiver(async (ns, receiver) => {
    await queueUdpTo(ns, PORT, 6);
    const cli = startCli(['--netns', ns, '-q', '6']);
    await waitCliBound(ns, cli, 6);
    await sendUdp(ns, 1);
    expect(await receiver.waitFor(1)).toHaveLength(1);
    expect(await cli.stop('SIGHUP'), cli.stderr()).toBe(0);
    expect(summary(cli.stderr())).toEqual({ packets: 1, accepted: 1, dropped: 0, handlerErrors: 0 });
  }),
);

it('--queue-balance 3:4 --handler: every worker loads the policy for its queue, and SIGHUP reloads it in each', { timeout: 40_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy(
      'balanced.mjs',
      `let verdict;
export function setup(context) {
  console.error('setup queue ' + context.queue + ' of ' + JSON.stringify(context.queueBalance));
  verdict = { accept: { mark: 100 + context.queue } };
}
export default () => verdict;
`,
    );
    await queueUdpTo(ns, PORT, '3:4');
    await iptables(ns, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '103');
    await iptables(ns, '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'udp', '--dport', String(PORT), '-m', 'mark', '--mark', '104');
    const cli = startCli(['--netns', ns, '--queue-balance', '3:4', '--handler', file, '-q']);
    await waitCliBound(ns, cli, 3, 4);
    expect(cli.stderr()).toContain('setup queue 3 of {"from":3,"to":4}');
    expect(cli.stderr()).toContain('setup queue 4 of {"from":3,"to":4}');
    // The kernel's flow hash covers addresses only: several sources spread over both queues.
    const sources = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
    await sendUdp(ns, 16, 0, sources);
    expect(await receiver.waitFor(16)).toHaveLength(16);
    const marked3 = await ruleCounter(ns, 'mangle', 'POSTROUTING', 'mark match 0x67');
    const marked4 = await ruleCounter(ns, 'mangle', 'POSTROUTING', 'mark match 0x68');
    expect(marked3).toBeGreaterThan(0);
    expect(marked4).toBeGreaterThan(0);
    expect(marked3 + marked4).toBe(16);
    await writeFile(file, `export default () => 'drop';\n`);
    cli.child.kill('SIGHUP');
    await cli.waitForOutput(`nf-queue: reloaded the policy ${file} (queues 3, 4)`, { stream: 'stderr' });
    await sendUdp(ns, 16, 16, sources);
    await until(async () => /^\s*32\s/m.test(await iptables(ns, '-L', 'OUTPUT', '-v', '-x', '-n')), { what: () => '32 datagrams queued' });
    expect(await cli.stop('SIGTERM'), cli.stderr()).toBe(0);
    expect(receiver.received).toHaveLength(16);
    expect(summary(cli.stderr())).toEqual({ packets: 32, accepted: 16, dropped: 16, handlerErrors: 0 });
  }),
);

it('--queue-balance 3:4 with a throwing policy: the default verdict in every worker, counted, one line', { timeout: 30_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy('balanced-broken.mjs', `export default () => { throw new Error('worker policy bug'); };\n`);
    await queueUdpTo(ns, PORT, '3:4');
    const cli = startCli(['--netns', ns, '--queue-balance', '3:4', '--handler', file, '--verdict', 'drop', '--count', '16', '-q']);
    await waitCliBound(ns, cli, 3, 4);
    const sources = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
    await sendUdp(ns, 16, 0, sources);
    expect(await cli.exited, cli.stderr()).toBe(0);
    expect(receiver.received).toEqual([]);
    const lines = cli.stderr().trim().split('\n');
    expect(lines, cli.stderr()).toHaveLength(2);
    expect(lines[0]).toMatch(/^nf-queue: queue [34]: the handler failed for packet \d+ \(worker policy bug\); it got the default verdict \(drop\) \(further/);
    expect(summary(cli.stderr())).toEqual({ packets: 16, accepted: 0, dropped: 16, handlerErrors: 16 });
  }),
);

it('a policy that cannot be loaded: exit 1 with one line naming it, nothing bound (one queue, and a range)', { timeout: 20_000 }, async () => {
  const missing = join(directory, 'missing.mjs');
  const noDefault = await policy('no-default.mjs', 'export const verdict = "accept";\n');
  for (const args of [['--handler', missing, '7'], ['--handler', noDefault, '--queue-balance', '7:8']]) {
    const failed = await nfQueue(args);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr.trim().split('\n'), failed.stderr).toHaveLength(1);
    expect(failed.stderr).toMatch(/^nf-queue: the policy .*(missing\.mjs could not be loaded|no-default\.mjs has no default export function)/);
  }
});

it('a TypeScript policy decides where the runtime strips types, and is refused in one line where it does not', { timeout: 20_000 }, () =>
  withReceiver(async (ns, receiver) => {
    const file = await policy(
      'odd-drop.ts',
      `const text = (packet: { payload: Uint8Array }): string => Buffer.from(packet.payload.subarray(28)).toString();
export default (packet: { payload: Uint8Array }): 'accept' | 'drop' => (Number(text(packet).split(' ')[1]) % 2 === 1 ? 'drop' : 'accept');
`,
    );
    if (!(process.features as { typescript?: unknown }).typescript) {
      const refused = await nfQueue(['--netns', ns, '--handler', file, '5']);
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr.trim().split('\n'), refused.stderr).toHaveLength(1);
      expect(refused.stderr).toMatch(/^nf-queue: the policy .*odd-drop\.ts could not be loaded/);
      return;
    }
    await queueUdpTo(ns, PORT, 5);
    const cli = startCli(['--netns', ns, '--handler', file, '--count', '4', '-q', '5']);
    await waitCliBound(ns, cli, 5);
    await sendUdp(ns, 4);
    expect(await cli.exited, cli.stderr()).toBe(0);
    await receiver.waitFor(2);
    expect(received(receiver)).toEqual(['datagram 0', 'datagram 2']);
    expect(summary(cli.stderr())).toEqual({ packets: 4, accepted: 2, dropped: 2, handlerErrors: 0 });
  }),
);

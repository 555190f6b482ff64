/**
 * `nf-queue doctor` without a kernel: fake probes in, the report's lines, JSON and exit status
 * out; and the small readers it relies on (CapEff, iptables --version).
 */
import { describe, expect, it } from 'vitest';
import {
  type BindOutcome,
  type DoctorProbes,
  type NftOutcome,
  type ProbedFlag,
  diagnose,
  doctorExitCode,
  formatDoctorJson,
  formatDoctorReport,
  main,
  parseIptablesVersion,
} from '../src/commands/doctor.js';
import type { CommandResult } from '../src/commands/shared.js';
import { hasNetAdmin, parseCapEff } from '../src/commands/shared.js';

const ROOT_CAPS = '000001fffeffffff';
const NO_CAPS = '0000000000000000';

const found = (stdout: string): CommandResult => ({ ok: true, stdout, stderr: '' });
const notFound: CommandResult = { ok: false, notFound: true, code: 'ENOENT', stdout: '', stderr: '', message: 'spawn iptables ENOENT' };

/** Probes of a machine like ours (no conntrack glue, no nft queue), with overrides; records the binds asked. */
function fakeProbes(overrides: Partial<DoctorProbes> & { flags?: Partial<Record<ProbedFlag, BindOutcome>> } = {}) {
  const binds: Array<[ProbedFlag | undefined, string | undefined]> = [];
  let nftAsked = 0;
  const { flags = {}, ...rest } = overrides;
  const probes: DoctorProbes = {
    nfnetlinkQueue: () => true,
    namespaceExists: (name) => name === 'lab',
    program: async (command) =>
      command === 'iptables' ? found('iptables v1.8.9 (nf_tables)\n') : found('ip utility, iproute2-6.1.0, libbpf 1.1.2\n'),
    capEff: () => ROOT_CAPS,
    kernelRelease: () => '6.18.44',
    bindQueue: async (flag, netns) => {
      binds.push([flag, netns]);
      if (flag === 'conntrack') return { result: 'unsupported', message: 'the kernel does not support NFQA_CFG_F_CONNTRACK' };
      return (flag && flags[flag]) ?? { result: 'ok', queue: 51000 };
    },
    nftQueue: async (): Promise<NftOutcome> => {
      nftAsked++;
      return { result: 'unsupported', message: 'Error: Could not process rule: No such file or directory' };
    },
    ...rest,
  };
  return { probes, binds, nftAsked: () => nftAsked };
}

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, output: { out: (line: string) => lines.push(line), err: (line: string) => errors.push(line) } };
}

describe('readers', () => {
  it('CAP_NET_ADMIN is bit 12 of CapEff', () => {
    expect(parseCapEff('Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\t0\n')).toBe(ROOT_CAPS);
    expect(hasNetAdmin(ROOT_CAPS)).toBe(true);
    expect(hasNetAdmin('0000000000001000')).toBe(true); // bit 12 alone
    expect(hasNetAdmin('0000000000000fff')).toBe(false); // bits 0..11
    expect(hasNetAdmin(NO_CAPS)).toBe(false);
    expect(hasNetAdmin(undefined)).toBe(false);
    expect(hasNetAdmin('zz')).toBe(false);
  });

  it('reads the iptables version and variant', () => {
    expect(parseIptablesVersion('iptables v1.8.9 (nf_tables)')).toEqual({ version: '1.8.9', variant: 'nf_tables' });
    expect(parseIptablesVersion('iptables v1.8.7 (legacy)')).toEqual({ version: '1.8.7', variant: 'legacy' });
    expect(parseIptablesVersion('iptables v1.6.1')).toEqual({ version: '1.6.1', variant: 'legacy' });
    expect(parseIptablesVersion('bash: iptables: command not found')).toBeUndefined();
  });
});

describe('diagnose', () => {
  it('on a machine like ours: everything needed is ok, conntrack glue and nft queue missing, exit 0', async () => {
    const { probes, binds } = fakeProbes();
    const checks = await diagnose(probes);
    expect(Object.fromEntries(checks.map((c) => [c.id, c.status]))).toEqual({
      nfnetlink_queue: 'ok',
      iptables: 'ok',
      ip: 'ok',
      cap_net_admin: 'ok',
      kernel: 'ok',
      bind: 'ok',
      'flag:failOpen': 'ok',
      'flag:gso': 'ok',
      'flag:uidGid': 'ok',
      'flag:secctx': 'ok',
      'flag:conntrack': 'missing',
      nft_queue: 'missing',
    });
    expect(binds).toEqual([[undefined, undefined], ['failOpen', undefined], ['gso', undefined], ['uidGid', undefined], ['secctx', undefined], ['conntrack', undefined]]);
    expect(doctorExitCode(checks)).toBe(0);
    const report = formatDoctorReport(checks);
    expect(report).toHaveLength(checks.length + 1);
    expect(report[0]).toBe('ok       nfnetlink_queue: /proc/net/netfilter/nfnetlink_queue is present');
    expect(report[1]).toBe('ok       iptables: iptables v1.8.9, the nf_tables variant (iptables-nft): -j NFQUEUE works through nft_compat');
    expect(report[3]).toBe('ok       CAP_NET_ADMIN: held (CapEff bit 12)');
    expect(report[4]).toBe('ok       kernel: Linux 6.18.44');
    expect(report[10]).toMatch(/^missing  conntrack glue \(CONFIG_NETFILTER_NETLINK_GLUE_CT\): connmarks in verdicts will not apply.*; fix: /);
    expect(report[11]).toMatch(/^missing  nftables queue statement \(CONFIG_NFT_QUEUE\): .*fix: write queue rules with iptables -j NFQUEUE/);
    expect(report.at(-1)).toBe('nf-queue doctor: everything nf-queue needs is here');
    expect(JSON.parse(formatDoctorJson(checks))).toEqual({ ready: true, checks: JSON.parse(JSON.stringify(checks)) });
  });

  it('a kernel with the conntrack glue reports it ok', async () => {
    const { probes } = fakeProbes({ bindQueue: async () => ({ result: 'ok', queue: 50000 }) });
    const conntrack = (await diagnose(probes)).find((c) => c.id === 'flag:conntrack')!;
    expect(conntrack.status).toBe('ok');
    expect(conntrack.detail).toContain('connmarks in verdicts apply');
  });

  it('without CAP_NET_ADMIN: says how to get it, skips every probe with the reason, exit 1', async () => {
    const { probes, binds, nftAsked } = fakeProbes({ capEff: () => NO_CAPS });
    const checks = await diagnose(probes);
    expect(binds).toEqual([]);
    expect(nftAsked()).toBe(0);
    const cap = checks.find((c) => c.id === 'cap_net_admin')!;
    expect(cap).toMatchObject({ status: 'missing', required: true });
    expect(cap.fix).toContain('setpriv --inh-caps +net_admin');
    for (const check of checks.filter((c) => c.id === 'bind' || c.id.startsWith('flag:'))) {
      expect(check).toMatchObject({ status: 'warning', detail: 'skipped: binding a queue needs CAP_NET_ADMIN' });
    }
    expect(checks.find((c) => c.id === 'nft_queue')!.detail).toMatch(/^not probed: needs CAP_NET_ADMIN/);
    expect(doctorExitCode(checks)).toBe(1);
    expect(formatDoctorReport(checks).at(-1)).toBe('nf-queue doctor: missing what nf-queue needs: CAP_NET_ADMIN');
  });

  it('without nfnetlink_queue or iptables: each missing with its fix, probes skipped, exit 1', async () => {
    const { probes, binds } = fakeProbes({
      nfnetlinkQueue: () => false,
      program: async (command) => (command === 'iptables' ? notFound : found('ip utility, iproute2-6.1.0\n')),
    });
    const checks = await diagnose(probes);
    expect(binds).toEqual([]);
    expect(checks.find((c) => c.id === 'nfnetlink_queue')).toMatchObject({ status: 'missing', fix: expect.stringContaining('modprobe nfnetlink_queue') });
    expect(checks.find((c) => c.id === 'iptables')).toMatchObject({ status: 'missing', detail: 'no iptables command', fix: expect.stringContaining('apt-get install -y iptables') });
    expect(checks.find((c) => c.id === 'flag:gso')).toMatchObject({ status: 'warning', detail: 'skipped: nfnetlink_queue is missing' });
    expect(doctorExitCode(checks)).toBe(1);
    expect(formatDoctorReport(checks).at(-1)).toBe('nf-queue doctor: missing what nf-queue needs: nfnetlink_queue, iptables');
  });

  it('no ip and no nft: warnings only, exit still 0', async () => {
    const { probes, nftAsked } = fakeProbes({
      program: async (command) => (command === 'ip' ? notFound : found('iptables v1.8.7 (legacy)\n')),
    });
    const checks = await diagnose(probes);
    expect(checks.find((c) => c.id === 'ip')).toMatchObject({ status: 'warning', fix: expect.stringContaining('iproute2') });
    expect(checks.find((c) => c.id === 'iptables')!.detail).toContain('legacy variant');
    expect(checks.find((c) => c.id === 'nft_queue')).toMatchObject({ status: 'warning' });
    expect(nftAsked()).toBe(0);
    expect(doctorExitCode(checks)).toBe(0);

    const noNft = fakeProbes({ nftQueue: async () => ({ result: 'absent' }) });
    expect((await diagnose(noNft.probes)).find((c) => c.id === 'nft_queue')).toMatchObject({
      status: 'warning',
      detail: expect.stringMatching(/^not probed: no nft command; this project queues with iptables -j NFQUEUE/),
    });
  });

  it('a queue that cannot be bound is missing (exit 1) and the flag probes are skipped', async () => {
    const { probes, binds } = fakeProbes({
      bindQueue: async (flag, netns) => {
        binds.push([flag, netns]);
        return { result: 'failed', code: 'EPERM', message: 'binding queue 50000 needs CAP_NET_ADMIN' };
      },
    });
    const checks = await diagnose(probes);
    expect(binds).toHaveLength(1);
    expect(checks.find((c) => c.id === 'bind')).toMatchObject({ status: 'missing', required: true, detail: 'binding queue 50000 needs CAP_NET_ADMIN' });
    expect(checks.find((c) => c.id === 'flag:failOpen')).toMatchObject({ status: 'warning', detail: 'skipped: no queue could be bound' });
    expect(doctorExitCode(checks)).toBe(1);
  });

  it('a flag the kernel lacks is missing but not needed; a probe that fails otherwise is a warning', async () => {
    const { probes } = fakeProbes({
      flags: { gso: { result: 'unsupported', message: 'no GSO' }, secctx: { result: 'failed', code: 'ENOMEM', message: 'out of memory' } },
    });
    const checks = await diagnose(probes);
    expect(checks.find((c) => c.id === 'flag:gso')).toMatchObject({ status: 'missing', required: false });
    expect(checks.find((c) => c.id === 'flag:secctx')).toMatchObject({ status: 'warning', detail: 'probe failed: ENOMEM: out of memory' });
    expect(doctorExitCode(checks)).toBe(0);
  });
});

describe('nf-queue doctor', () => {
  it('prints the report and exits with its status', async () => {
    const { lines, output } = capture();
    expect(await main([], { output, probes: fakeProbes().probes })).toBe(0);
    expect(lines.at(-1)).toBe('nf-queue doctor: everything nf-queue needs is here');
    expect(lines.every((line, i) => i === lines.length - 1 || /^(ok|missing|warning) +\S/.test(line))).toBe(true);

    const denied = capture();
    expect(await main(['--json'], { output: denied.output, probes: fakeProbes({ capEff: () => NO_CAPS }).probes })).toBe(1);
    expect(JSON.parse(denied.lines.join(''))).toMatchObject({ ready: false });
  });

  it('--netns NAME probes in that namespace; an unknown one exits 1', async () => {
    const { probes, binds } = fakeProbes();
    const { lines, output } = capture();
    expect(await main(['--netns', 'lab', '--json'], { output, probes })).toBe(0);
    expect(binds.every(([, netns]) => netns === 'lab')).toBe(true);
    expect(JSON.parse(lines[0]!).checks.find((c: { id: string }) => c.id === 'bind').what).toBe('bind a queue (namespace lab)');

    const unknown = capture();
    expect(await main(['--netns', 'nope'], { output: unknown.output, probes })).toBe(1);
    expect(unknown.errors).toEqual(['nf-queue doctor: no network namespace nope (see ip netns list)']);
  });

  it('a wrong option: one line, exit 2, nothing probed', async () => {
    const { probes, binds } = fakeProbes();
    const { lines, errors, output } = capture();
    expect(await main(['--verbose'], { output, probes })).toBe(2);
    expect(errors).toEqual(['nf-queue doctor: unknown option --verbose (see nf-queue doctor --help)']);
    expect(lines).toEqual([]);
    expect(binds).toEqual([]);
  });
});

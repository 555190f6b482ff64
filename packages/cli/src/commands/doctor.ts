/**
 * `nf-queue doctor [--netns NAME] [--json]`: what this machine can do with NFQUEUE, one line per
 * piece (`ok`, `missing` or `warning`) with what to do about it. The probes bind a free queue
 * number briefly and, for nftables, work inside a private network namespace made and removed for
 * the purpose: the root namespace's rules are never touched.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { QueueAlreadyBoundError, UnsupportedError, openQueue, queueStats } from '@nfq/nfqueue';
import {
  type CommandOutput,
  type CommandResult,
  EXIT_FAILED,
  EXIT_OK,
  HOW_TO_GET_NET_ADMIN,
  hasNetAdmin,
  parseCapEff,
  parseOptionsOrExit,
  processOutput,
  runProgram,
} from './shared.js';

/** `nf-queue doctor --help`. */
export const DOCTOR_USAGE = `Usage: nf-queue doctor [--netns NAME] [--json]

What this machine can do with NFQUEUE, one line per piece: ok, missing or warning, and what to
do about it. Checks nfnetlink_queue, iptables (and its variant), ip (iproute2), CAP_NET_ADMIN,
the kernel version, then binds a free queue number briefly with each queue flag alone
(fail-open, GSO, uid/gid, security context, conntrack) and tries nftables' queue statement in
a private network namespace it makes and removes. Without CAP_NET_ADMIN the probes are skipped.
No rule of the root namespace is touched.

  --netns NAME  probe inside namespace NAME (ip netns list) instead of this one
  --json        print one JSON object: { ready, checks: [{ id, status, what, detail, fix, required }] }
  -h, --help    print this help

Exit status: 0 when everything nf-queue needs is there, 1 otherwise, 2 for a wrong option.`;

/** How a piece stands: there, absent, or worth a look. */
export type CheckStatus = 'ok' | 'missing' | 'warning';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** Stable identifier: `'nfnetlink_queue'`, `'iptables'`, `'ip'`, `'cap_net_admin'`, `'kernel'`, `'bind'`, `'flag:<name>'`, `'nft_queue'`. */
  id: string;
  /** ok, missing or warning. */
  status: CheckStatus;
  /** What was checked, e.g. `'CAP_NET_ADMIN'`. */
  what: string;
  /** What was found. */
  detail: string;
  /** What to do about it, when there is something to do. */
  fix?: string;
  /** Whether nf-queue needs it: a required piece missing makes the exit status 1. */
  required: boolean;
}

/** The queue flags probed one by one, as `openQueue` options. */
export const PROBED_FLAGS = ['failOpen', 'gso', 'uidGid', 'secctx', 'conntrack'] as const;

/** One of {@link PROBED_FLAGS}. */
export type ProbedFlag = (typeof PROBED_FLAGS)[number];

/** What binding a queue (with one flag, or none) came to. */
export type BindOutcome =
  | { result: 'ok'; queue: number }
  | { result: 'unsupported'; message: string }
  | { result: 'failed'; code: string; message: string };

/** What trying nftables' `queue` statement in a private namespace came to. */
export type NftOutcome =
  | { result: 'ok' }
  | { result: 'absent' }
  | { result: 'unsupported'; message: string }
  | { result: 'failed'; message: string };

/** Everything the doctor asks the machine; tests pass fakes. */
export interface DoctorProbes {
  /** Whether `/proc/net/netfilter/nfnetlink_queue` exists. */
  nfnetlinkQueue(): boolean;
  /** Whether `ip netns` knows namespace `name`. */
  namespaceExists(name: string): boolean;
  /** Runs a program (`iptables --version`, `ip -V`); never throws. */
  program(command: string, args: readonly string[]): Promise<CommandResult>;
  /** The hex effective capability set of this process (`CapEff` in /proc/thread-self/status: capabilities are per thread). */
  capEff(): string | undefined;
  /** The kernel release (`uname -r`). */
  kernelRelease(): string;
  /** Binds a free queue number with `flag` alone (none when undefined), in `netns`, and unbinds it. */
  bindQueue(flag: ProbedFlag | undefined, netns: string | undefined): Promise<BindOutcome>;
  /** Tries `nft add rule ... queue num N` inside a private namespace made and deleted for it. */
  nftQueue(): Promise<NftOutcome>;
}

const FLAG_NAMES: Record<ProbedFlag, { attribute: string; use: string }> = {
  failOpen: { attribute: 'NFQA_CFG_F_FAIL_OPEN', use: 'accept instead of drop when the queue is full (--fail-open)' },
  gso: { attribute: 'NFQA_CFG_F_GSO', use: 'receive GSO packets whole instead of segmented (--gso)' },
  uidGid: { attribute: 'NFQA_CFG_F_UID_GID', use: 'the uid and gid of the socket that sent a packet' },
  secctx: { attribute: 'NFQA_CFG_F_SECCTX', use: 'the security context of a packet' },
  conntrack: { attribute: 'NFQA_CFG_F_CONNTRACK', use: 'conntrack state of each packet, and connmarks in verdicts' },
};

/** Reads `iptables --version` (`iptables v1.8.9 (nf_tables)`): version and variant. */
export function parseIptablesVersion(text: string): { version: string; variant: 'nf_tables' | 'legacy' | undefined } | undefined {
  const match = /iptables v(\S+)(?:\s+\(([^)]+)\))?/.exec(text);
  if (!match) return undefined;
  const variant = match[2] === 'nf_tables' ? 'nf_tables' : match[2] === 'legacy' || match[2] === undefined ? 'legacy' : undefined;
  return { version: match[1]!, variant };
}

/** Asks every probe and turns the answers into the report's checks, in report order. */
export async function diagnose(probes: DoctorProbes, options: { netns?: string } = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const where = options.netns === undefined ? '' : ` (namespace ${options.netns})`;

  const nfnetlinkQueue = probes.nfnetlinkQueue();
  checks.push(
    nfnetlinkQueue
      ? { id: 'nfnetlink_queue', status: 'ok', what: 'nfnetlink_queue', detail: '/proc/net/netfilter/nfnetlink_queue is present', required: true }
      : {
          id: 'nfnetlink_queue',
          status: 'missing',
          what: 'nfnetlink_queue',
          detail: '/proc/net/netfilter/nfnetlink_queue does not exist',
          fix: 'modprobe nfnetlink_queue, or a kernel built with CONFIG_NETFILTER_NETLINK_QUEUE',
          required: true,
        },
  );

  const iptables = await probes.program('iptables', ['--version']);
  if (iptables.ok) {
    const parsed = parseIptablesVersion(iptables.stdout + iptables.stderr);
    const variant =
      parsed?.variant === 'nf_tables'
        ? 'the nf_tables variant (iptables-nft): -j NFQUEUE works through nft_compat'
        : parsed?.variant === 'legacy'
          ? 'the legacy variant (x_tables)'
          : 'unknown variant';
    checks.push({
      id: 'iptables',
      status: 'ok',
      what: 'iptables',
      detail: `${parsed ? `iptables v${parsed.version}` : (iptables.stdout.trim() || 'present')}, ${variant}`,
      required: true,
    });
  } else {
    checks.push({
      id: 'iptables',
      status: 'missing',
      what: 'iptables',
      detail: iptables.notFound ? 'no iptables command' : `iptables --version failed: ${iptables.message}`,
      fix: 'apt-get install -y iptables (rules that queue packets are written with iptables -j NFQUEUE)',
      required: true,
    });
  }

  const ip = await probes.program('ip', ['-V']);
  checks.push(
    ip.ok
      ? { id: 'ip', status: 'ok', what: 'ip (iproute2)', detail: (ip.stdout.trim().split('\n')[0] ?? '').split(',').slice(0, 2).join(',') || 'present', required: false }
      : {
          id: 'ip',
          status: 'warning',
          what: 'ip (iproute2)',
          detail: ip.notFound ? 'no ip command' : `ip -V failed: ${ip.message}`,
          fix: 'apt-get install -y iproute2 (needed for --netns and nf-queue demo)',
          required: false,
        },
  );

  const capNetAdmin = hasNetAdmin(probes.capEff());
  checks.push(
    capNetAdmin
      ? { id: 'cap_net_admin', status: 'ok', what: 'CAP_NET_ADMIN', detail: 'held (CapEff bit 12)', required: true }
      : {
          id: 'cap_net_admin',
          status: 'missing',
          what: 'CAP_NET_ADMIN',
          detail: 'not held: binding a queue and giving verdicts need it',
          fix: HOW_TO_GET_NET_ADMIN,
          required: true,
        },
  );

  checks.push({ id: 'kernel', status: 'ok', what: 'kernel', detail: `Linux ${probes.kernelRelease()}`, required: false });

  const skipReason = !capNetAdmin
    ? 'skipped: binding a queue needs CAP_NET_ADMIN'
    : !nfnetlinkQueue
      ? 'skipped: nfnetlink_queue is missing'
      : undefined;
  if (skipReason !== undefined) {
    checks.push({ id: 'bind', status: 'warning', what: `bind a queue${where}`, detail: skipReason, required: false });
    for (const flag of PROBED_FLAGS) checks.push(flagCheck(flag, { result: 'skipped', message: skipReason }));
  } else {
    const bind = await probes.bindQueue(undefined, options.netns);
    checks.push(
      bind.result === 'ok'
        ? { id: 'bind', status: 'ok', what: `bind a queue${where}`, detail: `bound and unbound queue ${bind.queue}`, required: true }
        : {
            id: 'bind',
            status: 'missing',
            what: `bind a queue${where}`,
            detail: bind.message,
            fix: bind.result === 'failed' && bind.code === 'EPERM' ? HOW_TO_GET_NET_ADMIN : 'see the message; nf-queue stats lists the queues bound',
            required: true,
          },
    );
    for (const flag of PROBED_FLAGS) {
      checks.push(flagCheck(flag, bind.result === 'ok' ? await probes.bindQueue(flag, options.netns) : { result: 'skipped', message: 'skipped: no queue could be bound' }));
    }
  }

  checks.push(await nftCheck(probes, capNetAdmin, ip.ok));
  return checks;
}

function flagCheck(flag: ProbedFlag, outcome: BindOutcome | { result: 'skipped'; message: string }): DoctorCheck {
  const { attribute, use } = FLAG_NAMES[flag];
  const conntrack = flag === 'conntrack';
  const what = conntrack ? 'conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT)' : `queue flag ${attribute} (${flag})`;
  const id = `flag:${flag}`;
  switch (outcome.result) {
    case 'ok':
      return { id, status: 'ok', what, detail: conntrack ? 'the kernel accepts the conntrack flag: connmarks in verdicts apply' : `the kernel accepts it: ${use}`, required: false };
    case 'skipped':
      return { id, status: 'warning', what, detail: outcome.message, required: false };
    case 'unsupported':
      return conntrack
        ? {
            id,
            status: 'missing',
            what,
            detail: 'connmarks in verdicts will not apply and no conntrack state arrives (the kernel answers EOPNOTSUPP)',
            fix: 'a kernel built with CONFIG_NETFILTER_NETLINK_GLUE_CT (and nf_conntrack loaded); without it, mark with accept({ mark }) instead',
            required: false,
          }
        : { id, status: 'missing', what, detail: `the kernel refuses it (EOPNOTSUPP): no ${use}`, fix: 'a newer kernel', required: false };
    case 'failed':
      return { id, status: 'warning', what, detail: `probe failed: ${outcome.code}: ${outcome.message}`, required: false };
  }
}

async function nftCheck(probes: DoctorProbes, capNetAdmin: boolean, haveIp: boolean): Promise<DoctorCheck> {
  const what = 'nftables queue statement (CONFIG_NFT_QUEUE)';
  const note = 'this project queues with iptables -j NFQUEUE, which does not need it';
  if (!capNetAdmin || !haveIp) {
    return { id: 'nft_queue', status: 'warning', what, detail: `not probed: ${!capNetAdmin ? 'needs CAP_NET_ADMIN' : 'needs ip (iproute2)'}; ${note}`, required: false };
  }
  const nft = await probes.nftQueue();
  switch (nft.result) {
    case 'ok':
      return { id: 'nft_queue', status: 'ok', what, detail: 'nft add rule ... queue num N works (tried in a private namespace)', required: false };
    case 'absent':
      return { id: 'nft_queue', status: 'warning', what, detail: `not probed: no nft command; ${note}`, required: false };
    case 'unsupported':
      return {
        id: 'nft_queue',
        status: 'missing',
        what,
        detail: `nft add rule ... queue num N fails (${nft.message})`,
        fix: `write queue rules with iptables -j NFQUEUE --queue-num N; ${note}`,
        required: false,
      };
    case 'failed':
      return { id: 'nft_queue', status: 'warning', what, detail: `probe failed: ${nft.message}; ${note}`, required: false };
  }
}

/** The report as text: one line per check, `status  what: detail (fix: ...)`, then a verdict line. */
export function formatDoctorReport(checks: readonly DoctorCheck[]): string[] {
  const lines = checks.map((c) => `${c.status.padEnd(7)}  ${c.what}: ${c.detail}${c.fix ? `; fix: ${c.fix}` : ''}`);
  const missing = checks.filter((c) => c.required && c.status === 'missing');
  lines.push(
    missing.length === 0
      ? 'nf-queue doctor: everything nf-queue needs is here'
      : `nf-queue doctor: missing what nf-queue needs: ${missing.map((c) => c.what).join(', ')}`,
  );
  return lines;
}

/** The report as `--json` prints it: `{ ready, checks }`. */
export function formatDoctorJson(checks: readonly DoctorCheck[]): string {
  return JSON.stringify({ ready: doctorExitCode(checks) === EXIT_OK, checks });
}

/** 0 when no required piece is missing, else 1. */
export function doctorExitCode(checks: readonly DoctorCheck[]): number {
  return checks.some((c) => c.required && c.status === 'missing') ? EXIT_FAILED : EXIT_OK;
}

/** Binds a free queue number (retrying on a taken one) with `flag` alone, then closes it. */
async function bindFreeQueue(flag: ProbedFlag | undefined, netns: string | undefined): Promise<BindOutcome> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const taken = new Set(queueStats(netns === undefined ? {} : { netns }).map((q) => q.queue));
    let queueNum: number;
    do queueNum = randomInt(49152, 65536);
    while (taken.has(queueNum));
    try {
      const queue = await openQueue({ queue: queueNum, copyMode: 'meta', ...(netns === undefined ? {} : { netns }), ...(flag ? { [flag]: true } : {}) });
      await queue.close();
      return { result: 'ok', queue: queueNum };
    } catch (error) {
      if (error instanceof QueueAlreadyBoundError) continue; // taken between the look and the bind
      if (error instanceof UnsupportedError) return { result: 'unsupported', message: error.message };
      const code = (error as { code?: unknown }).code;
      return { result: 'failed', code: typeof code === 'string' ? code : 'ERROR', message: error instanceof Error ? error.message : String(error) };
    }
  }
  return { result: 'failed', code: 'EPERM', message: 'every queue number tried was already bound' };
}

/** Tries nftables' queue statement inside a private namespace, deleted again on every path. */
async function probeNftQueue(): Promise<NftOutcome> {
  const version = await runProgram('nft', ['--version']);
  if (!version.ok && version.notFound) return { result: 'absent' };
  const namespace = `nfqdoctor-${process.pid}-${randomBytes(3).toString('hex')}`;
  const table = `nfqdoctor${process.pid}`;
  const made = await runProgram('ip', ['netns', 'add', namespace]);
  if (!made.ok) return { result: 'failed', message: `ip netns add ${namespace}: ${made.message}` };
  try {
    const nft = (...args: string[]) => runProgram('ip', ['netns', 'exec', namespace, 'nft', ...args]);
    const addTable = await nft('add', 'table', 'inet', table);
    if (!addTable.ok) return { result: 'failed', message: `nft add table: ${addTable.message}` };
    const addChain = await nft('add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0 ; }');
    if (!addChain.ok) return { result: 'failed', message: `nft add chain: ${addChain.message}` };
    const addRule = await nft('add', 'rule', 'inet', table, 'out', 'queue', 'num', '0');
    return addRule.ok ? { result: 'ok' } : { result: 'unsupported', message: addRule.message };
  } finally {
    await runProgram('ip', ['netns', 'delete', namespace]);
  }
}

/** The real machine's probes. */
export const machineProbes: DoctorProbes = {
  nfnetlinkQueue: () => existsSync('/proc/net/netfilter/nfnetlink_queue'),
  namespaceExists: (name) => existsSync(`/run/netns/${name}`),
  program: (command, args) => runProgram(command, args),
  capEff: () => {
    try {
      return parseCapEff(readFileSync('/proc/thread-self/status', 'utf8'));
    } catch {
      return undefined;
    }
  },
  kernelRelease: () => release(),
  bindQueue: bindFreeQueue,
  nftQueue: probeNftQueue,
};

/** What `nf-queue doctor` uses; tests replace these. */
export interface DoctorDependencies {
  /** Where to write. */
  output?: CommandOutput;
  /** What to ask (the machine by default). */
  probes?: DoctorProbes;
}

/** Runs `nf-queue doctor` with `args` (what follows `doctor`); resolves to the exit status. */
export async function main(args: readonly string[], dependencies: DoctorDependencies = {}): Promise<number> {
  const output = dependencies.output ?? processOutput;
  const probes = dependencies.probes ?? machineProbes;
  const options = parseOptionsOrExit('doctor', args, DOCTOR_USAGE, output);
  if (typeof options === 'number') return options;
  if (options.netns !== undefined && !probes.namespaceExists(options.netns)) {
    output.err(`nf-queue doctor: no network namespace ${options.netns} (see ip netns list)`);
    return EXIT_FAILED;
  }
  const checks = await diagnose(probes, options.netns === undefined ? {} : { netns: options.netns });
  if (options.json) output.out(formatDoctorJson(checks));
  else for (const line of formatDoctorReport(checks)) output.out(line);
  return doctorExitCode(checks);
}

/**
 * `nf-queue stats` without a kernel: the table and JSON made from given queues and holders, and
 * the exit status of each outcome. (Reading /proc and finding the holders is nfq-core's, tested
 * there and by the kernel tests.)
 */
import type { QueueHealth } from '@nfq/nfqueue';
import { describe, expect, it } from 'vitest';
import { type StatsDependencies, formatStatsJson, formatStatsTable, main, toStatsRows } from '../src/commands/stats.js';

const QUEUE_0: QueueHealth = {
  queue: 0,
  portId: 4242,
  waiting: 3,
  copyMode: 2,
  copyRange: 65531,
  queueDropped: 7,
  userDropped: 1,
  idSequence: 123456,
  owner: { pid: 4242, command: 'suricata' },
};
const QUEUE_12: QueueHealth = { queue: 12, portId: 3999999, waiting: 0, copyMode: 1, copyRange: 0, queueDropped: 0, userDropped: 0, idSequence: 5, owner: null };

function capture(): { lines: string[]; errors: string[]; output: StatsDependencies['output'] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, output: { out: (line) => lines.push(line), err: (line) => errors.push(line) } };
}

describe('formatting', () => {
  const rows = toStatsRows([QUEUE_12, QUEUE_0]);

  it('gives each queue the process holding its socket, sorted by queue; unknown holders are null', () => {
    expect(rows).toEqual([
      { queue: 0, portId: 4242, pid: 4242, command: 'suricata', waiting: 3, copyMode: 'packet', copyRange: 65531, queueDropped: 7, userDropped: 1, idSequence: 123456 },
      { queue: 12, portId: 3999999, pid: null, command: null, waiting: 0, copyMode: 'meta', copyRange: 0, queueDropped: 0, userDropped: 0, idSequence: 5 },
    ]);
  });

  it('prints an aligned table: header, then one line per queue, numbers right-aligned', () => {
    expect(formatStatsTable(rows)).toEqual([
      'queue  port id  pid   command   waiting  copy mode  copy range  queue dropped  user dropped  id sequence',
      '    0     4242  4242  suricata        3  packet          65531              7             1       123456',
      '   12  3999999     -  -               0  meta                0              0             0            5',
    ]);
  });

  it('says that no queue is bound, naming the namespace when there is one', () => {
    expect(formatStatsTable([])).toEqual(['no queue is bound in this network namespace']);
    expect(formatStatsTable([], 'lab')).toEqual(['no queue is bound in network namespace lab']);
  });

  it('prints --json as one array that parses back to the rows', () => {
    expect(JSON.parse(formatStatsJson(rows))).toEqual(rows);
    expect(formatStatsJson([])).toBe('[]');
  });
});

describe('nf-queue stats', () => {
  function dependencies(overrides: Partial<StatsDependencies> = {}): StatsDependencies & { asked: Array<string | undefined> } {
    const asked: Array<string | undefined> = [];
    return {
      asked,
      queueStats: (options) => {
        asked.push(options.netns);
        expect(options.owners).toBe(true);
        return [QUEUE_0];
      },
      nfnetlinkQueuePresent: () => true,
      namespaceExists: (name) => name === 'lab' || name === '/run/netns/lab',
      ...overrides,
    };
  }

  it('prints the table for this namespace and exits 0', async () => {
    const { lines, errors, output } = capture();
    const deps = dependencies({ output });
    expect(await main([], deps)).toBe(0);
    expect(deps.asked).toEqual([undefined]);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\s+0\s+4242\s+4242\s+suricata\s+3\s+packet\s+65531\s+7\s+1\s+123456$/);
    expect(errors).toEqual([]);
  });

  it('--netns NAME --json asks that namespace and prints a JSON array', async () => {
    const { lines, output } = capture();
    const deps = dependencies({ output });
    expect(await main(['--netns', 'lab', '--json'], deps)).toBe(0);
    expect(deps.asked).toEqual(['lab']);
    expect(JSON.parse(lines.join('\n'))).toEqual([expect.objectContaining({ queue: 0, portId: 4242, pid: 4242, command: 'suricata' })]);
  });

  it('--netns takes the absolute path of a namespace file too, as the library does', async () => {
    const { output } = capture();
    const deps = dependencies({ output });
    expect(await main(['--netns', '/run/netns/lab'], deps)).toBe(0);
    expect(deps.asked).toEqual(['/run/netns/lab']);
  });

  it('an empty host prints the "no queue is bound" line and exits 0', async () => {
    const { lines, output } = capture();
    expect(await main(['--netns=lab'], dependencies({ output, queueStats: () => [] }))).toBe(0);
    expect(lines).toEqual(['no queue is bound in network namespace lab']);
  });

  it('without nfnetlink_queue says so and exits 1', async () => {
    const { lines, errors, output } = capture();
    expect(await main([], dependencies({ output, nfnetlinkQueuePresent: () => false }))).toBe(1);
    expect(lines).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/nfnetlink_queue is not available.*modprobe nfnetlink_queue/);
  });

  it('an unknown namespace exits 1 naming it', async () => {
    const { errors, output } = capture();
    expect(await main(['--netns', 'nope'], dependencies({ output }))).toBe(1);
    expect(errors).toEqual(['nf-queue stats: no network namespace nope (see ip netns list)']);
  });

  it('prints a queue whose holder /proc does not tell with - (table) and null (JSON)', async () => {
    const { lines, output } = capture();
    expect(await main(['--json'], dependencies({ output, queueStats: () => [{ ...QUEUE_0, owner: null }] }))).toBe(0);
    expect(JSON.parse(lines[0]!)).toEqual([expect.objectContaining({ queue: 0, pid: null, command: null })]);
  });

  it.each([
    [['--bogus'], 'nf-queue stats: unknown option --bogus (see nf-queue stats --help)'],
    [['--netns'], 'nf-queue stats: --netns needs a namespace name (see ip netns list)'],
    [['--netns', '--json'], 'nf-queue stats: --netns needs a namespace name (see ip netns list)'],
    [['--netns', '../etc'], 'nf-queue stats: --netns ../etc: not a namespace name (see ip netns list) nor the absolute path of a namespace file'],
    [['3'], 'nf-queue stats: unknown option 3 (see nf-queue stats --help)'],
  ])('%j is a usage error: one line, exit 2, nothing read', async (args, message) => {
    const { lines, errors, output } = capture();
    const deps = dependencies({ output });
    expect(await main(args, deps)).toBe(2);
    expect(errors).toEqual([message]);
    expect(lines).toEqual([]);
    expect(deps.asked).toEqual([]);
  });

  it('--help prints the usage and exits 0', async () => {
    const { lines, output } = capture();
    expect(await main(['--help'], dependencies({ output }))).toBe(0);
    expect(lines[0]).toBe('Usage: nf-queue stats [--netns NAME] [--json | --prometheus]');
    expect(lines.join('\n')).toContain('--json');
  });
});

describe('--prometheus', () => {
  const present = { nfnetlinkQueuePresent: () => true, namespaceExists: () => true };

  it("prints every queue's kernel numbers in the text format, nothing of a process it does not hold", async () => {
    const { lines, output } = capture();
    expect(await main(['--prometheus'], { ...present, output, queueStats: () => [QUEUE_12, QUEUE_0] })).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('# TYPE nfqueue_kernel_packets_waiting gauge');
    expect(text).toContain('nfqueue_kernel_packets_waiting{queue="0"} 3');
    expect(text).toContain('nfqueue_kernel_queue_dropped_total{queue="0"} 7');
    expect(text).toContain('nfqueue_kernel_user_dropped_total{queue="12"} 0');
    expect(text.indexOf('queue="0"')).toBeLessThan(text.indexOf('queue="12"'));
    expect(text).not.toContain('nfqueue_packets_received_total');
  });

  it('prints nothing when no queue is bound, and refuses --json with it', async () => {
    const { lines, errors, output } = capture();
    expect(await main(['--prometheus'], { ...present, output, queueStats: () => [] })).toBe(0);
    expect(lines).toEqual([]);
    expect(await main(['--prometheus', '--json'], { ...present, output, queueStats: () => [] })).toBe(2);
    expect(errors.join('\n')).toContain('choose one');
  });
});

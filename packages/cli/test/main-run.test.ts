/** `runCli` end to end on the fake environment: verdicts, output, summary, status line, rule, user, errors. */
import { readFileSync } from 'node:fs';
import { PermissionDeniedError, QueueAlreadyBoundError } from '@nfq/nfqueue';
import { NF_ACCEPT, NF_DROP } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { CLEAR_LINE, runCli } from '../src/index.js';
import { fakeEnvironment } from './fake-environment.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const SUMMARY = /^nf-queue: \d+ packets: \d+ accepted, \d+ dropped.*; \d+ overrun events?; \d+\.\d\d s, [\d.]+ packets\/s$/;

describe('runCli verdicts and output', () => {
  it('--verdict drop drops every packet and the summary counts them', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--verdict', 'drop', '--count', '2', '--quiet'], fake.environment);
    await settle();
    fake.natives[0]!.push(1, 2);
    expect(await exit).toBe(0);
    expect(fake.natives[0]!.verdicts).toEqual([
      [1, NF_DROP],
      [2, NF_DROP],
    ]);
    expect(fake.lines).toEqual([]);
    expect(fake.errors).toHaveLength(1);
    expect(fake.errors[0]).toMatch(SUMMARY);
    expect(fake.errors[0]).toMatch(/^nf-queue: 2 packets: 0 accepted, 2 dropped; 0 overrun events; /);
  });

  it('--mark sets the mark with each accept; packets beyond --count get the default at close, counted in the summary', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--mark', '42', '--count', '1', '-q'], fake.environment);
    await settle();
    fake.natives[0]!.push(1, 2);
    expect(await exit).toBe(0);
    expect(fake.natives[0]!.verdicts).toEqual([
      [1, NF_ACCEPT, 42],
      [2, NF_ACCEPT],
    ]);
    expect(fake.errors).toEqual([expect.stringMatching(/^nf-queue: 2 packets: 2 accepted, 0 dropped, 1 by default \(close 1\); 0 overrun events; /)]);
  });

  it('--json prints one JSON object per packet per line, with id, hook and the attributes present', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--json', '--count', '2'], fake.environment);
    await settle();
    fake.natives[0]!.push({ id: 7, mark: 5, payload: Uint8Array.of(0x45, 0, 0, 4) }, { id: 8, timestamp: { sec: 10, usec: 20 } });
    expect(await exit).toBe(0);
    expect(fake.lines).toHaveLength(2);
    const [first, second] = fake.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ id: 7, hook: 3, hookName: 'OUTPUT', hwProtocol: 0x0800, mark: 5, payloadLength: 4, payload: '45000004' });
    expect(first).not.toHaveProperty('timestamp');
    expect(second).toMatchObject({ id: 8, hook: 3, timestamp: { sec: 10, usec: 20 }, payloadLength: 28 });
    expect(second).not.toHaveProperty('mark');
    expect(first!.verdict).toBe('accept');
    expect(first).not.toHaveProperty('verdictMark');
  });

  it('--json lines carry the verdict given, with the marks it sets', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--json', '--mark', '0x2a', '--connmark', '7', '--count', '1'], fake.environment);
    await settle();
    fake.natives[0]!.push({ id: 4, mark: 5 });
    expect(await exit).toBe(0);
    expect(JSON.parse(fake.lines[0]!)).toMatchObject({ id: 4, mark: 5, verdict: 'accept', verdictMark: 42, verdictConnmark: 7 });
    const dropping = fakeEnvironment();
    const dropped = runCli(['--json', '--verdict', 'drop', '--count', '1'], dropping.environment);
    await settle();
    dropping.natives[0]!.push({ id: 5 });
    expect(await dropped).toBe(0);
    expect(JSON.parse(dropping.lines[0]!)).toMatchObject({ id: 5, verdict: 'drop' });
  });

  it('prints the nf-queue.c line of packet.toString()', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--count', '1'], fake.environment);
    await settle();
    fake.natives[0]!.push({ id: 3, capLen: 1500, skbInfo: 1 | 2 }); // NFQA_SKB_CSUMNOTREADY | NFQA_SKB_GSO
    expect(await exit).toBe(0);
    expect(fake.lines).toEqual(['truncated GSO packet received (id=3 hw=0x0800 hook=3, payload len 28, checksum not ready)']);
  });

  it('--pcap records every verdicted packet with its original length, and closes the file', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--pcap', 'out.pcap', '-q', '--count', '2'], fake.environment);
    await settle();
    fake.natives[0]!.push({ id: 1, payload: Uint8Array.of(1, 2, 3), capLen: 900, timestamp: { sec: 1_700_000_000, usec: 123_457 } }, 2);
    expect(await exit).toBe(0);
    const recorder = fake.recorders[0]!;
    expect(recorder.records.map((record) => [[...record.payload].length, record.originalLength])).toEqual([
      [3, 900],
      [28, undefined],
    ]);
    expect(recorder.records[0]!.payload).toEqual(Buffer.from([1, 2, 3]));
    // The kernel's NFQA_TIMESTAMP, to the microsecond; none for the second packet (the writer takes the time then).
    expect(recorder.records.map((record) => record.timestamp)).toEqual([{ sec: 1_700_000_000, usec: 123_457 }, undefined]);
    expect(recorder.closed).toBe(true);
  });

  it('passes the queue options through', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(
      ['--copy-mode', 'meta', '--copy-range', '64', '--maxlen', '10', '--fail-open', '--no-gso', '--rcvbuf', '1K', '--no-enobufs', '--reader-thread', '--netns', 'lab', '9'],
      fake.environment,
    );
    await settle();
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.openedWith).toEqual([
      {
        queue: 9,
        copyMode: 'meta',
        copyRange: 64,
        maxLen: 10,
        failOpen: true,
        gso: false,
        receiveBufferSize: 1024,
        noEnobufs: true,
        readerThread: true,
        netns: 'lab',
        drainTimeout: 0,
      },
    ]);
  });
});

describe('runCli status line', () => {
  it('is never drawn when stderr is not a terminal: stderr holds the summary only', async () => {
    const fake = fakeEnvironment({ stderrIsTerminal: false, statusIntervalMs: 5 });
    const exit = runCli([], fake.environment);
    await settle();
    fake.natives[0]!.push(1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.status).toEqual([]);
    expect(fake.stderr).toEqual([expect.stringMatching(/^nf-queue: 1 packets: .*\n$/)]);
  });

  it('is drawn on a terminal with \\r and clear-line, left in place by lines that go to a pipe, erased before the summary', async () => {
    const fake = fakeEnvironment({ stderrIsTerminal: true, statusIntervalMs: 5 });
    const exit = runCli([], fake.environment);
    await settle();
    fake.natives[0]!.push(1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    const drawn = fake.status.find((text) => text.length > CLEAR_LINE.length);
    expect(drawn).toMatch(/^\r\x1b\[2Knf-queue: \d+ packets\/s, 1 packets, 1 accepted, 0 dropped, 0 overrun events$/);
    const writes = fake.status.length;
    fake.natives[0]!.push(2); // stdout is not the terminal: its line does not touch the status line
    expect(fake.status).toHaveLength(writes);
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.lines).toHaveLength(2);
    expect(fake.stderr.at(-2)).toBe(CLEAR_LINE); // erased...
    expect(fake.stderr.at(-1)).toMatch(/^nf-queue: 2 packets: /); // ...before the summary
  });

  it('stays below the packet lines when stdout is the same terminal: erased once per batch, drawn again after it', async () => {
    const terminal: string[] = [];
    let clock = 0;
    const fake = fakeEnvironment({
      stderrIsTerminal: true,
      stdoutIsTerminal: true,
      statusIntervalMs: 5,
      now: () => (clock += 5),
      printLine: (line) => void terminal.push(`${line}\n`),
      writeStatus: (text) => void terminal.push(text),
    });
    const exit = runCli([], fake.environment);
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (let batch = 0; batch < 3; batch++) {
      fake.natives[0]!.push(batch * 2 + 1, batch * 2 + 2); // one batch: two lines, then the status line again
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    const beforeEnd = terminal.length;
    fake.signal();
    expect(await exit).toBe(0);
    const run = terminal.slice(0, beforeEnd);
    const packetAt = run.map((text, at) => (text.startsWith('packet received') ? at : -1)).filter((at) => at >= 0);
    expect(packetAt).toHaveLength(6);
    for (const at of packetAt) {
      // Each line starts on a clean line: the status line was erased before the batch's first line.
      const previous = run[at - 1]!;
      expect(previous === CLEAR_LINE || previous.startsWith('packet received'), previous).toBe(true);
    }
    // After every batch, the status line comes back below its lines, with the counts so far.
    const afterBatches = [packetAt[1]!, packetAt[3]!, packetAt[5]!].map((last) => run[last + 1]!);
    for (const line of afterBatches) expect(line).toMatch(/^\r\x1b\[2Knf-queue: \d+ packets\/s, /);
    expect(run.at(-1)).toMatch(/, 6 packets, 6 accepted/);
  });

  it('--version prints the package version and exits 0 without opening a queue', async () => {
    const fake = fakeEnvironment();
    expect(await runCli(['--version'], fake.environment)).toBe(0);
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(fake.lines).toEqual([`nf-queue ${version}`]);
    expect(fake.openedWith).toEqual([]);
  });

  it('is not drawn with --quiet', async () => {
    const fake = fakeEnvironment({ stderrIsTerminal: true, statusIntervalMs: 5 });
    const exit = runCli(['-q'], fake.environment);
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 30));
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.status).toEqual([]);
  });
});

describe('runCli --rule and --user', () => {
  it('adds the rule after binding and removes it after --count, and drops privileges after binding', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--rule', 'OUTPUT -p udp --dport 53', '--user', 'nobody', '--netns', 'lab', '--count', '1', '5'], fake.environment);
    await settle();
    expect(fake.openedWith).toHaveLength(1);
    expect(fake.rulesAdded).toEqual([{ words: ['OUTPUT', '-p', 'udp', '--dport', '53'], queue: 5, queueBalance: undefined, netns: 'lab' }]);
    expect(fake.usersDropped).toEqual(['nobody']);
    expect(fake.rulesRemoved).toEqual([]);
    fake.natives[0]!.push(1);
    expect(await exit).toBe(0);
    expect(fake.rulesRemoved).toEqual(fake.rulesAdded);
  });

  it('removes the rule on a signal', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--rule', 'INPUT'], fake.environment);
    await settle();
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.rulesRemoved).toHaveLength(1);
  });

  it('removes the rule and closes the queue when dropping privileges fails, exit 1 with one line', async () => {
    const fake = fakeEnvironment({
      dropPrivileges: () => {
        throw new Error("no user 'nobodyx'");
      },
    });
    expect(await runCli(['--rule', 'INPUT', '--user', 'nobodyx'], fake.environment)).toBe(1);
    expect(fake.errors).toEqual(["nf-queue: no user 'nobodyx'"]);
    expect(fake.rulesRemoved).toHaveLength(1);
    expect(fake.natives[0]!.closed).toBe(true);
  });

  it('closes the queue and says why when the rule cannot be added', async () => {
    const fake = fakeEnvironment({ addRule: () => Promise.reject(new Error('cannot add the rule (iptables -w -A NOPE ...): No chain')) });
    expect(await runCli(['--rule', 'NOPE'], fake.environment)).toBe(1);
    expect(fake.errors).toEqual(['nf-queue: cannot add the rule (iptables -w -A NOPE ...): No chain']);
    expect(fake.natives[0]!.closed).toBe(true);
  });
});

describe('runCli errors', () => {
  it.each([
    [['--queue-balance', '5:1'], /^nf-queue: --queue-balance starts after it ends/],
    [['--copy-range', '70000'], /^nf-queue: --copy-range must be from 0 to 65535/],
    [['--verdict', 'maybe'], /^nf-queue: --verdict must be accept or drop/],
    [['--json', '-q'], /^nf-queue: --json prints every packet/],
    [['--nope'], /^nf-queue: Unknown option '--nope'/],
  ])('refuses %j with exit 2 and one line, before opening anything', async (argv, message) => {
    const fake = fakeEnvironment();
    expect(await runCli(argv, fake.environment)).toBe(2);
    expect(fake.errors).toEqual([expect.stringMatching(message)]);
    expect(fake.openedWith).toEqual([]);
    expect(fake.recorders).toEqual([]);
    expect(fake.rulesAdded).toEqual([]);
  });

  it('prints the CAP_NET_ADMIN message as is, without a stack, exit 1', async () => {
    const fake = fakeEnvironment({
      openQueue: () => Promise.reject(new PermissionDeniedError('bind queue 0: permission denied (EPERM): the process needs CAP_NET_ADMIN. Run it as root')),
    });
    expect(await runCli([], fake.environment)).toBe(1);
    expect(fake.errors).toEqual(['nf-queue: bind queue 0: permission denied (EPERM): the process needs CAP_NET_ADMIN. Run it as root']);
  });

  it('names the process that holds the queue', async () => {
    const fake = fakeEnvironment({
      openQueue: () => Promise.reject(new QueueAlreadyBoundError('queue 5 is already bound by another process', { queue: 5, ownerPid: 4242, ownerCommand: 'suricata' })),
    });
    expect(await runCli(['5'], fake.environment)).toBe(1);
    expect(fake.errors).toEqual(['nf-queue: queue 5 is already bound by another process (pid 4242, suricata)']);
  });

  it('closes the pcap file when the queue cannot be opened', async () => {
    const fake = fakeEnvironment({ openQueue: () => Promise.reject(new Error('nope')) });
    expect(await runCli(['-w', 'x.pcap'], fake.environment)).toBe(1);
    expect(fake.recorders[0]!.closed).toBe(true);
  });
});

describe('runCli on output faults', () => {
  const fault = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`write ${code}`), { code });

  it('a closed stdout (EPIPE) ends the run as a signal does: every held packet accepted, the summary, exit 0, no other line', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['5'], fake.environment);
    await settle();
    fake.natives[0]!.push(1, 2);
    fake.failStdout(fault('EPIPE'));
    expect(await exit).toBe(0);
    expect(fake.natives[0]!.verdicts).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
    ]);
    expect(fake.natives[0]!.closed).toBe(true);
    expect(fake.errors).toEqual([expect.stringMatching(/^nf-queue: 2 packets: 2 accepted, 0 dropped; /)]);
  });

  it('any other stdout error (ENOSPC) ends the run with one line saying so, the summary, exit 1', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['-q', '5'], fake.environment);
    await settle();
    fake.natives[0]!.push(1);
    fake.failStdout(fault('ENOSPC'));
    expect(await exit).toBe(1);
    expect(fake.natives[0]!.verdicts).toEqual([[1, NF_ACCEPT]]);
    expect(fake.errors).toEqual(['nf-queue: cannot write to standard output: write ENOSPC', expect.stringMatching(SUMMARY)]);
  });

  it('lines dropped while stdout was behind are counted in the summary', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--count', '1'], fake.environment);
    await settle();
    fake.stdoutDropped = 12;
    fake.natives[0]!.push(1);
    expect(await exit).toBe(0);
    expect(fake.errors).toEqual([expect.stringMatching(/; 12 lines not printed \(stdout was behind\)$/)]);
  });

  it('a pcap write error ends the run with one line naming the file, every packet verdicted, exit 1', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['-w', '/tmp/x.pcap', '-q', '5'], fake.environment);
    await settle();
    fake.natives[0]!.push(1, 2);
    fake.recorders[0]!.fail(fault('ENOSPC'));
    expect(await exit).toBe(1);
    expect(fake.natives[0]!.verdicts).toHaveLength(2);
    expect(fake.recorders[0]!.closed).toBe(true);
    expect(fake.errors).toEqual(['nf-queue: cannot write the pcap file /tmp/x.pcap: write ENOSPC', expect.stringMatching(SUMMARY)]);
  });

  it('a signal while waiting for a FIFO reader ends the run before binding, with one line, exit 0', async () => {
    const fake = fakeEnvironment({
      openPcap: (_path, options) =>
        new Promise((_resolve, reject) => {
          options.onWaitingForReader?.();
          options.signal?.addEventListener('abort', () => reject(options.signal!.reason));
        }),
    });
    const exit = runCli(['-w', '/tmp/fifo', '5'], fake.environment);
    await settle();
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.natives).toHaveLength(0);
    expect(fake.errors).toEqual([
      'nf-queue: /tmp/fifo is a FIFO that nobody reads yet: waiting for a reader (Ctrl-C to give up)',
      'nf-queue: nobody opened /tmp/fifo for reading; stopped (SIGTERM) before binding',
    ]);
  });
});

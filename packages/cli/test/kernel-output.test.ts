/**
 * The real `bin/nf-queue.js` on the real kernel when its output fails: a closed stdout pipe
 * (also with --json, --reader-thread, -w and --queue-balance), a FIFO nobody opens, a FIFO
 * whose reader never reads, /dev/full and a file system that fills up, and a socket too small
 * (the kernel's drops in the summary). Each run must keep the promise: every packet it took gets
 * its verdict (accept: it arrives at a UDP receiver in the namespace, nothing missing), the queue
 * is unbound, the summary is on stderr, no stack trace, the documented exit status.
 * Needs root; never skipped. Run after `npx tsc -p packages/cli` (the bin runs dist/).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  type UdpReceiver,
  killStartedProcesses,
  numberedPayloads,
  queueTable,
  queueUdpTo,
  ruleCounter,
  run,
  sleep,
  snmpCounters as udpCounters,
  udpReceiver,
  udpSend,
  until,
  withNamespace,
} from '@nfq/test-kit';
import { PORT, startCli as startNfQueue, waitCliBound as waitBound } from './nf-queue.js';

const SUMMARY =
  /^nf-queue: (\d+) packets: (\d+) accepted, (\d+) dropped[^;]*; (?:(\d+) dropped by the kernel \((\d+) queue full, (\d+) socket full\); )?(\d+) overrun events?; \d+\.\d\d s, [\d.]+ packets\/s(.*)$/;

// Commands started by the running test: whatever happens to it, none outlives it.
afterEach(killStartedProcesses);

/** Starts the command; its stdout is the test's to handle (piped) or left unread. */
const startCli = (args: string[], stdout: 'pipe' | 'ignore' = 'ignore') => startNfQueue(args, { stdout });

/** The summary, the last line of stderr, parsed; no stack trace anywhere on stderr. */
function summaryOf(stderr: string): { packets: number; accepted: number; kernel?: { queueFull: number; socketFull: number }; tail: string } {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/Error:|Uncaught|node:internal/);
  const lines = stderr.trim().split('\n');
  const match = SUMMARY.exec(lines.at(-1)!);
  expect(match, stderr).not.toBeNull();
  const m = match!;
  return {
    packets: Number(m[1]),
    accepted: Number(m[2]),
    ...(m[4] === undefined ? {} : { kernel: { queueFull: Number(m[5]), socketFull: Number(m[6]) } }),
    tail: m[8]!,
  };
}

/**
 * Sends `count` datagrams `<source> <n> ` (padded to `size` bytes) from `source`, resting 1 ms
 * every `burst` so that the test's receiver keeps up (0: never rest, a flood).
 */
function pacedSend(ns: string, count: number, source: string, burst = 10, size = 0): Promise<Array<string | null>> {
  return udpSend(ns, PORT, numberedPayloads(count, `${source} `, ' ', size), { source, restEvery: burst });
}

/**
 * Nothing was lost while the command ran: every datagram it accepted reached the receiver, none
 * twice, and for each sender what arrived is its first datagrams, with gaps only where the kernel
 * dropped a packet before the command could take it (its socket full on a loaded machine), which
 * the summary counts: `kernelDropped`. (While it closes, the kernel lets new packets pass without
 * queueing them; once it is gone, the kernel drops what the NFQUEUE rule still sends to the
 * unbound queue: those never count.)
 */
async function expectNothingLost(ns: string, receiver: UdpReceiver, accepted: number, tags: string[], kernelDropped = 0): Promise<void> {
  await receiver.waitFor(accepted, 5_000).catch(async (error: Error) => {
    throw new Error(`${error.message}; Udp counters ${JSON.stringify(await udpCounters(ns))}`);
  });
  await sleep(200);
  expect((await udpCounters(ns)).RcvbufErrors).toBe(0); // the receiver kept up: what it lacks was never delivered
  let missing = 0;
  for (const tag of tags) {
    // Verdicts at close may pass a packet before an earlier one: the set is what counts.
    const numbers = receiver.received.map((datagram) => datagram.toString().split(' ')).filter(([t]) => t === tag).map(([, n]) => Number(n));
    numbers.sort((a, b) => a - b);
    expect(new Set(numbers).size, `${tag}: a datagram arrived twice`).toBe(numbers.length);
    if (numbers.length > 0) missing += numbers[numbers.length - 1]! + 1 - numbers.length;
  }
  expect(missing, 'datagrams missing before the last one that arrived, beyond what the kernel says it dropped').toBeLessThanOrEqual(kernelDropped);
}

/** Nothing bound and nothing waiting in the namespace once the command has exited. */
async function expectUnbound(ns: string): Promise<void> {
  expect(await queueTable(ns)).toEqual([]);
}

const closedPipeCases: Array<{ name: string; args: string[]; balance?: boolean }> = [
  { name: 'plain lines', args: [] },
  { name: '--json', args: ['--json'] },
  { name: '--reader-thread', args: ['--reader-thread'] },
  { name: '-w FILE', args: ['-w', '@pcap'] },
  { name: '--queue-balance 3:4 --json', args: ['--queue-balance', '3:4', '--json'], balance: true },
];

for (const { name, args, balance } of closedPipeCases) {
  it(`a stdout pipe closed by its reader (${name}): printing stops, every packet taken is accepted and arrives, unbound, the summary, exit 0`, { timeout: 60_000 }, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'nfq-closed-pipe-'));
    try {
      await withNamespace(async ({ name: ns }) => {
        const queues = balance ? [3, 4] : [5];
        const target = balance ? '3:4' : 5;
        await queueUdpTo(ns, PORT, target);
        const receiver = await udpReceiver(ns, PORT);
        try {
          const path = join(directory, 'capture.pcap');
          const cliArgs = ['--netns', ns, ...args.map((arg) => (arg === '@pcap' ? path : arg)), ...(balance ? [] : ['5'])];
          const cli = startCli(cliArgs, 'pipe');
          // The reader takes the first chunk and closes its end, as `nf-queue | head -1` does.
          let first = '';
          cli.child.stdout!.once('data', (chunk: Buffer) => {
            first = chunk.toString();
            cli.child.stdout!.destroy();
          });
          await waitBound(ns, cli, ...queues);
          const sources = balance ? ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'] : ['127.0.0.1'];
          await Promise.all(sources.map((source) => pacedSend(ns, 3000 / sources.length, source, 10 / sources.length)));
          const exit = await cli.exited;
          expect(exit, cli.stderr()).toBe(0);
          expect(first.length).toBeGreaterThan(0);
          const summary = summaryOf(cli.stderr());
          expect(cli.stderr().trim().split('\n'), cli.stderr()).toHaveLength(1);
          expect(summary.packets).toBeGreaterThan(0);
          expect(summary.accepted).toBe(summary.packets);
          await expectNothingLost(ns, receiver, summary.accepted, sources, (summary.kernel?.queueFull ?? 0) + (summary.kernel?.socketFull ?? 0));
          await expectUnbound(ns);
          if (args.includes('-w')) {
            const bytes = await readFile(path);
            expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4); // the file is complete: header, then whole records
          }
        } finally {
          await receiver.close();
        }
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
}

it('-w to a FIFO nobody opens: says so, binds nothing, and SIGINT ends it at once with exit 0; once a reader opens it, it serves', { timeout: 60_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'nfq-fifo-'));
  try {
    await withNamespace(async ({ name: ns }) => {
      const fifo = join(directory, 'capture.fifo');
      execFileSync('mkfifo', [fifo]);
      await queueUdpTo(ns, PORT, 6);
      const waiting = startCli(['--netns', ns, '-q', '-w', fifo, '6']);
      await waiting.waitForOutput('waiting for a reader', { stream: 'stderr', timeoutMs: 8_000 });
      expect(await queueTable(ns)).toEqual([]);
      waiting.child.kill('SIGINT');
      const signalled = performance.now();
      expect(await waiting.exited, waiting.stderr()).toBe(0);
      expect(performance.now() - signalled).toBeLessThan(10_000); // a hang detector, not a speed figure
      expect(waiting.stderr().trim().split('\n')).toEqual([
        `nf-queue: ${fifo} is a FIFO that nobody reads yet: waiting for a reader (Ctrl-C to give up)`,
        `nf-queue: nobody opened ${fifo} for reading; stopped (SIGINT) before binding`,
      ]);

      // A reader comes after nf-queue started: it binds then, and the capture flows to the reader.
      const receiver = await udpReceiver(ns, PORT);
      try {
        const cli = startCli(['--netns', ns, '-q', '-w', fifo, '6']);
        await cli.waitForOutput('waiting for a reader', { stream: 'stderr', timeoutMs: 8_000 });
        const captured = join(directory, 'captured.pcap');
        const reader = spawn('sh', ['-c', `cat "${fifo}" > "${captured}"`]);
        const readerDone = new Promise((resolve) => reader.once('exit', resolve));
        await waitBound(ns, cli, 6);
        await pacedSend(ns, 20, '127.0.0.2');
        await receiver.waitFor(20);
        cli.child.kill('SIGTERM');
        expect(await cli.exited, cli.stderr()).toBe(0);
        await readerDone;
        expect(summaryOf(cli.stderr())).toMatchObject({ packets: 20, accepted: 20 });
        await expectNothingLost(ns, receiver, 20, ['127.0.0.2']);
        expect((await run('tcpdump', ['-n', '-r', captured])).trim().split('\n')).toHaveLength(20);
        await expectUnbound(ns);
      } finally {
        await receiver.close();
      }
    });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

for (const balance of [false, true]) {
  it(`-w to a FIFO whose reader never reads${balance ? ' (--queue-balance 3:4)' : ''}: verdicts never wait, SIGINT exits promptly, the summary counts the records not written`, { timeout: 60_000 }, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'nfq-fifo-stuck-'));
    try {
      await withNamespace(async ({ name: ns }) => {
        const fifo = join(directory, 'capture.fifo');
        execFileSync('mkfifo', [fifo]);
        // A reader that opens the FIFO and never reads from it.
        const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        try {
          const target = balance ? '3:4' : 7;
          await queueUdpTo(ns, PORT, target);
          const receiver = await udpReceiver(ns, PORT);
          try {
            // A socket buffer that holds the whole run: on a loaded machine the CLI may fall behind
            // the sender, and the kernel must not drop what did not fit (what is tested is the output).
            const cli = startCli(['--netns', ns, '-q', '--rcvbuf', '32M', '-w', fifo, ...(balance ? ['--queue-balance', '3:4'] : ['7'])]);
            await waitBound(ns, cli, ...(balance ? [3, 4] : [7]));
            // 3 MB of packets: far more than the pipe holds.
            await pacedSend(ns, 3000, '127.0.0.2', 5, 1000);
            // Every one verdicted while the capture is stuck: delivered to UDP (the receiver's own
            // buffer may overflow on 1000-byte datagrams; the kernel counts those).
            const delivered = async (): Promise<number> => {
              const udp = await udpCounters(ns);
              return udp.InDatagrams! + udp.RcvbufErrors!;
            };
            await until(async () => (await delivered()) === 3000, { what: () => `not every packet delivered: ${cli.stderr()}`, timeoutMs: 10_000 }).catch(async (error: Error) => {
              throw new Error(`${error.message}; Udp ${JSON.stringify(await udpCounters(ns))}; queues ${JSON.stringify(await queueTable(ns))}`);
            });
            cli.child.kill('SIGINT');
            const signalled = performance.now();
            expect(await cli.exited, cli.stderr()).toBe(0);
            expect(performance.now() - signalled).toBeLessThan(10_000);
            const summary = summaryOf(cli.stderr());
            expect(summary).toMatchObject({ packets: 3000, accepted: 3000 });
            const missing = /; (\d+) pcap records not in (.*) \((.*)\)$/.exec(summary.tail);
            expect(missing, cli.stderr()).not.toBeNull();
            expect(missing![2]).toBe(fifo);
            // At most 64 KiB of records sat in the pipe: nearly all of them are missing, and said so.
            expect(Number(missing![1])).toBeGreaterThan(2900);
            expect(await delivered()).toBe(3000);
            await expectUnbound(ns);
          } finally {
            await receiver.close();
          }
        } finally {
          closeSync(reader);
        }
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
}

it('-w /dev/full: one line naming the file, exit 1, nothing bound', { timeout: 30_000 }, () =>
  withNamespace(async ({ name: ns }) => {
    await queueUdpTo(ns, PORT, 8);
    const cli = startCli(['--netns', ns, '-q', '-w', '/dev/full', '8']);
    expect(await cli.exited, cli.stderr()).toBe(1);
    expect(cli.stderr().trim().split('\n')).toEqual([expect.stringMatching(/^nf-queue: cannot write the pcap file \/dev\/full: ENOSPC/)]);
    await expectUnbound(ns);
  }),
);

it('-w to a file system that fills up while running: one line naming the file, every packet taken accepted and arrived, the summary, exit 1', { timeout: 60_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'nfq-full-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', directory]);
  try {
    await withNamespace(async ({ name: ns }) => {
      const path = join(directory, 'capture.pcap');
      await queueUdpTo(ns, PORT, 9);
      const receiver = await udpReceiver(ns, PORT);
      try {
        const cli = startCli(['--netns', ns, '-q', '-w', path, '9']);
        await waitBound(ns, cli, 9);
        await pacedSend(ns, 1000, '127.0.0.2', 10, 1000); // 1 MB into 64 KiB
        expect(await cli.exited, cli.stderr()).toBe(1);
        const lines = cli.stderr().trim().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(new RegExp(`^nf-queue: cannot write the pcap file ${path}: ENOSPC`));
        const summary = summaryOf(cli.stderr());
        expect(summary.accepted).toBe(summary.packets);
        expect(summary.packets).toBeGreaterThan(0);
        await expectNothingLost(ns, receiver, summary.accepted, ['127.0.0.2'], (summary.kernel?.queueFull ?? 0) + (summary.kernel?.socketFull ?? 0));
        await expectUnbound(ns);
      } finally {
        await receiver.close();
      }
    });
  } finally {
    await run('umount', [directory]);
    await rm(directory, { recursive: true, force: true });
  }
});

it('--rcvbuf 1 under a flood: the summary gives the kernel\'s drops (socket full), which with the packets taken make every packet queued', { timeout: 60_000 }, () =>
  withNamespace(async ({ name: ns }) => {
    await queueUdpTo(ns, PORT, 10);
    const receiver = await udpReceiver(ns, PORT);
    try {
      const cli = startCli(['--netns', ns, '-q', '--rcvbuf', '1', '10']);
      await waitBound(ns, cli, 10);
      await pacedSend(ns, 3000, '127.0.0.2', 0, 200);
      // Every packet the kernel queued got its verdict before the signal: wait for the queue to drain.
      await until(async () => (await queueTable(ns))[0]?.[2] === 0, { what: () => 'packets still waiting', timeoutMs: 8_000 });
      cli.child.kill('SIGTERM');
      expect(await cli.exited, cli.stderr()).toBe(0);
      const summary = summaryOf(cli.stderr());
      expect(summary.kernel, cli.stderr()).toBeDefined();
      expect(summary.kernel!.socketFull).toBeGreaterThan(0);
      const queued = await ruleCounter(ns, 'filter', 'OUTPUT', 'NFQUEUE num 10');
      expect(summary.packets + summary.kernel!.queueFull + summary.kernel!.socketFull).toBe(queued);
      expect(summary.accepted).toBe(summary.packets);
      await receiver.waitFor(summary.accepted);
      await expectUnbound(ns);
    } finally {
      await receiver.close();
    }
  }),
);

for (const balance of [false, true]) {
  it(`a stdout reader that never reads${balance ? ' (--queue-balance 3:4)' : ''}: verdicts never wait, lines beyond the bound are dropped and counted, SIGTERM exits promptly`, { timeout: 60_000 }, () =>
    withNamespace(async ({ name: ns }) => {
      const target = balance ? '3:4' : 11;
      await queueUdpTo(ns, PORT, target);
      const receiver = await udpReceiver(ns, PORT);
      try {
        // A socket buffer that holds the whole run (see the FIFO test above).
        const cli = startCli(['--netns', ns, '--rcvbuf', '32M', '--json', ...(balance ? ['--queue-balance', '3:4'] : ['11'])], 'pipe');
        cli.child.stdout!.pause(); // the pipe fills, and stays full
        await waitBound(ns, cli, ...(balance ? [3, 4] : [11]));
        await pacedSend(ns, 3000, '127.0.0.2', 5, 1000); // about 7 MB of JSON lines
        const delivered = async (): Promise<number> => {
          const udp = await udpCounters(ns);
          return udp.InDatagrams! + udp.RcvbufErrors!;
        };
        await until(async () => (await delivered()) === 3000, { what: () => `not every packet delivered: ${cli.stderr()}`, timeoutMs: 10_000 });
        cli.child.kill('SIGTERM');
        const signalled = performance.now();
        expect(await cli.exited, cli.stderr()).toBe(0);
        expect(performance.now() - signalled).toBeLessThan(10_000);
        const summary = summaryOf(cli.stderr());
        expect(summary).toMatchObject({ packets: 3000, accepted: 3000 });
        const dropped = /; (\d+) lines not printed \(stdout was behind\)/.exec(summary.tail);
        expect(dropped, cli.stderr()).not.toBeNull();
        expect(Number(dropped![1])).toBeGreaterThan(0);
        expect(await delivered()).toBe(3000);
        await expectUnbound(ns);
      } finally {
        await receiver.close();
      }
    }),
  );
}

/**
 * The published packages where users run them: the tarballs of `npm run pack`, installed into an
 * empty folder, then
 * - `require()`d from CommonJS and used on real packets, on the Node.js running this suite
 *   (scripts/test-runtimes.mjs runs it again on Node 22 and 24), on Bun and on Deno, and
 *   `import x = require()` typechecked;
 * - imported by an ES module program with default options, and the installed `nf-queue`, run by
 *   Bun and by Deno (from scripts/runtimes.sh, which this file runs when they are missing),
 *   verdicting real packets in a private namespace: they receive on a reader thread they pick
 *   themselves, and refuse `readerThread: false` with a typed error.
 * Needs root; never skipped. Run after `npm run build` (the tarballs are packed from dist/).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { summaryOf } from './summary.js';
import { type Started, boundQueues, killStartedProcesses, numberedPayloads, queueUdpTo, sleep, startProcess, udpReceiver, udpSend, until, waitBound, withNamespace } from '@nfq/test-kit';

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const PORT = 9999;

/** The folder the tarballs are installed in, and the environment programs run with there. */
let folder: string;
let env: NodeJS.ProcessEnv;

/** How to run a script on each runtime. */
const runtimes: Record<'node' | 'bun' | 'deno', () => string[]> = {
  node: () => [process.execPath],
  bun: () => [runtimeBinary('node_modules/@oven', /^bun-linux-/, 'bin/bun')],
  deno: () => [runtimeBinary('node_modules/@deno', /^linux-.*-glibc$/, 'deno'), 'run', '--allow-all'],
};

/** A binary that scripts/runtimes.sh installed under scripts/runtimes/. */
function runtimeBinary(scope: string, name: RegExp, file: string): string {
  const directory = join(root, 'scripts/runtimes', scope);
  const found = existsSync(directory) ? readdirSync(directory).filter((entry) => name.test(entry)) : [];
  expect(found, `no ${file} in ${directory}: run bash scripts/runtimes.sh`).toHaveLength(1);
  return join(directory, found[0]!, file);
}

beforeAll(async () => {
  if (!existsSync(join(root, 'scripts/runtimes/node_modules/.package-lock.json'))) {
    await execFileAsync('bash', [join(root, 'scripts/runtimes.sh'), 'bun-deno']);
  }
  folder = await mkdtemp(join(tmpdir(), 'nfq-runtimes-'));
  const tarballs = join(folder, 'tarballs');
  // Packed under a lock, then copied away: another run of this file may pack into dist-tarballs/ too.
  await execFileAsync('flock', [
    join(tmpdir(), 'nfq-pack.lock'),
    'sh',
    '-c',
    `"$0" scripts/pack.mjs >/dev/null && mkdir "$1" && cp dist-tarballs/*.tgz "$1"`,
    process.execPath,
    tarballs,
  ], { cwd: root });
  const files = (await readdir(tarballs)).filter((file) => file.endsWith('.tgz')).map((file) => join(tarballs, file));
  expect(files.map((file) => file.replace(/.*\//, '')).sort()).toEqual(expect.arrayContaining(['nfq-cli-0.1.0.tgz', 'nfq-netlink-0.1.0.tgz', 'nfq-nfqueue-0.1.0.tgz']));
  await writeFile(join(folder, 'package.json'), '{ "name": "runtime-install", "private": true }\n');
  // Bun and Deno neither check for updates nor report crashes over the network.
  env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: folder, DENO_DIR: join(folder, '.deno'), DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' };
  await execFileAsync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...files], { cwd: folder, env });
  await writeFile(join(folder, 'require.cjs'), REQUIRE_PROGRAM);
  await writeFile(join(folder, 'program.mjs'), ESM_PROGRAM);
}, 120_000);

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

/**
 * CommonJS: requires both libraries, checks what they export, then binds queue argv[3] in
 * namespace argv[2], accepts argv[4] packets and prints their payloads and its counters.
 */
const REQUIRE_PROGRAM = `
const netlink = require('@nfq/netlink');
const nfqueue = require('@nfq/nfqueue');
const checks = {
  openQueue: typeof nfqueue.openQueue === 'function',
  openQueueRange: typeof nfqueue.openQueueRange === 'function',
  Queue: typeof nfqueue.Queue === 'function',
  errors: new nfqueue.InvalidOptionError('queue', 'x') instanceof nfqueue.NfqueueError,
  verdict: nfqueue.Verdict.Accept === netlink.NF_ACCEPT,
  message: netlink.NFQNL_MSG_VERDICT === 1,
};
const [netns, queueNumber, count] = process.argv.slice(2);
nfqueue.openQueue({ queue: Number(queueNumber), netns }).then((queue) => {
  console.log(JSON.stringify({ checks }));
  const payloads = [];
  queue.on('packet', (packet) => {
    packet.accept();
    payloads.push(Buffer.from(packet.payload.subarray(28)).toString());
    if (payloads.length === Number(count)) {
      queue.close().then(() => console.log(JSON.stringify({ payloads, received: queue.stats().received })));
    }
  });
});
`;

/**
 * An ES module: binds queue argv[3] in namespace argv[2] with default options (or
 * readerThread argv[5]), tells whether a reader thread receives, then drops the datagrams whose
 * text ends in an odd digit and accepts the others, argv[4] packets in all.
 */
const ESM_PROGRAM = `
import { readFileSync, readdirSync } from 'node:fs';
import { openQueue } from '@nfq/nfqueue';
const [netns, queueNumber, count, readerThread] = process.argv.slice(2);
const options = { queue: Number(queueNumber), netns };
if (readerThread !== undefined) options.readerThread = readerThread === 'true';
let queue;
try {
  queue = await openQueue(options);
} catch (error) {
  console.log(JSON.stringify({ error: { name: error.name, code: error.code, option: error.option, message: error.message } }));
  process.exit(1);
}
// The reader thread names itself once it runs: look for a while.
const threads = () => readdirSync('/proc/self/task').map((task) => {
  try { return readFileSync('/proc/self/task/' + task + '/comm', 'utf8').trim(); } catch { return ''; }
});
let readerThreadSeen = false;
for (let waited = 0; !readerThreadSeen && waited < 2000; waited += 20) {
  readerThreadSeen = threads().includes('nfq-reader-' + queueNumber);
  if (!readerThreadSeen) await new Promise((resolve) => setTimeout(resolve, 20));
}
console.log(JSON.stringify({ readerThread: readerThreadSeen }));
let seen = 0;
queue.on('packet', (packet) => {
  const text = Buffer.from(packet.payload.subarray(28)).toString();
  if (/[13579]$/.test(text)) packet.drop();
  else packet.accept();
  if (++seen === Number(count)) queue.close().then(() => console.log(JSON.stringify({ received: queue.stats().received })));
});
`;

afterEach(killStartedProcesses);

/** Starts `command` (a runtime and its options) with `args` in the install folder. */
function start(command: string[], args: string[]): Started {
  return startProcess(command[0]!, [...command.slice(1), ...args], { cwd: folder, env });
}

/** What `program` printed so far, for failure messages. */
const output = (program: Started) => (): string => program.stdout() + program.stderr();

const datagrams = (count: number): Buffer[] => numberedPayloads(count);

describe.each(['node', 'bun', 'deno'] as const)('CommonJS on %s', (runtime) => {
  it('require() loads @nfq/netlink and @nfq/nfqueue, and the queue it opens verdicts real packets', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      await queueUdpTo(ns.name, PORT, 41);
      const receiver = await udpReceiver(ns, PORT);
      const program = start(runtimes[runtime](), [join(folder, 'require.cjs'), ns.name, '41', '3']);
      await waitBound(ns.name, [41], output(program), 10_000);
      await until(() => program.jsonLines().length > 0, { what: output(program), timeoutMs: 10_000 });
      expect(program.jsonLines()[0]).toEqual({ checks: { openQueue: true, openQueueRange: true, Queue: true, errors: true, verdict: true, message: true } });
      await udpSend(ns.name, PORT, datagrams(3));
      expect(await program.exited, program.stderr()).toBe(0);
      expect(program.jsonLines()[1]).toEqual({ payloads: ['datagram 0', 'datagram 1', 'datagram 2'], received: 3 });
      expect((await receiver.waitFor(3)).map(String)).toEqual(['datagram 0', 'datagram 1', 'datagram 2']);
      expect(await boundQueues(ns.name)).toEqual([]);
    }),
  );
});

it('TypeScript accepts import x = require() of both packages from a CommonJS module (module nodenext)', { timeout: 60_000 }, async () => {
  await writeFile(
    join(folder, 'require.cts'),
    [
      "import nfqueue = require('@nfq/nfqueue');",
      "import netlink = require('@nfq/netlink');",
      'const opening: Promise<nfqueue.Queue> = nfqueue.openQueue({ queue: 0 });',
      'const verdict: number = netlink.NFQNL_MSG_VERDICT;',
      'export = { opening, verdict };',
      '',
    ].join('\n'),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', join(root, 'node_modules/@types'), 'require.cts'];
  const { stdout } = await execFileAsync(process.execPath, [tsc, ...args], { cwd: folder, env }).catch((error: { stdout?: string }) => ({ stdout: `failed: ${error.stdout}` }));
  expect(stdout).toBe('');
});

describe.each(['bun', 'deno'] as const)('on %s', (runtime) => {
  it('openQueue with default options receives on a reader thread and verdicts every packet', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      await queueUdpTo(ns.name, PORT, 42);
      const receiver = await udpReceiver(ns, PORT);
      const program = start(runtimes[runtime](), [join(folder, 'program.mjs'), ns.name, '42', '6']);
      await waitBound(ns.name, [42], output(program), 10_000);
      await until(() => program.jsonLines().length > 0, { what: output(program), timeoutMs: 10_000 });
      expect(program.jsonLines()[0]).toEqual({ readerThread: true });
      // One at a time: each its own batch, so the reader must keep receiving after the first.
      for (const datagram of datagrams(6)) await udpSend(ns.name, PORT, [datagram]);
      expect(await program.exited, program.stderr()).toBe(0);
      expect(program.jsonLines()[1]).toEqual({ received: 6 });
      expect((await receiver.waitFor(3)).map(String)).toEqual(['datagram 0', 'datagram 2', 'datagram 4']);
      await sleep(200);
      expect(receiver.received.map(String)).toEqual(['datagram 0', 'datagram 2', 'datagram 4']); // the odd ones were dropped
    }),
  );

  it('readerThread: false is refused with InvalidOptionError, binding nothing', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      const program = start(runtimes[runtime](), [join(folder, 'program.mjs'), ns.name, '43', '1', 'false']);
      expect(await program.exited, program.stderr()).toBe(1);
      const name = runtime === 'bun' ? 'Bun' : 'Deno';
      expect(program.jsonLines()).toEqual([
        {
          error: {
            name: 'InvalidOptionError',
            code: 'ERR_INVALID_OPTION',
            option: 'readerThread',
            message: expect.stringMatching(new RegExp(`^readerThread: false is not supported on ${name} \\d+\\.\\d+\\.\\d+: .*leave readerThread unset \\(${name} receives on a reader thread\\) or set it to true$`)),
          },
        },
      ]);
      expect(await boundQueues(ns.name)).toEqual([]);
    }),
  );

  it('the installed nf-queue verdicts real packets: --json --count, exit 0, one summary line', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      await queueUdpTo(ns.name, PORT, 44);
      const receiver = await udpReceiver(ns, PORT);
      const cli = start(runtimes[runtime](), [join(folder, 'node_modules/@nfq/cli/bin/nf-queue.js'), '--netns', ns.name, '--json', '--count', '4', '44']);
      await waitBound(ns.name, [44], output(cli), 10_000);
      for (const datagram of datagrams(4)) await udpSend(ns.name, PORT, [datagram]);
      expect(await cli.exited, cli.stderr()).toBe(0);
      expect((await receiver.waitFor(4)).map(String)).toEqual(['datagram 0', 'datagram 1', 'datagram 2', 'datagram 3']);
      const packets = cli.jsonLines();
      expect(packets.map((packet) => [packet.queue, packet.hookName, packet.payloadLength])).toEqual(Array(4).fill([44, 'OUTPUT', 38]));
      expect(summaryOf(cli.stderr())).toEqual({ packets: 4, accepted: 4, dropped: 0 });
    }),
  );

  it('the installed nf-queue --verdict drop, stopped by SIGTERM: a line per packet, nothing arrives, exit 0, the queue unbound', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      await queueUdpTo(ns.name, PORT, 45);
      const receiver = await udpReceiver(ns, PORT);
      const cli = start(runtimes[runtime](), [join(folder, 'node_modules/@nfq/cli/bin/nf-queue.js'), '--netns', ns.name, '--verdict', 'drop', '45']);
      await waitBound(ns.name, [45], output(cli), 10_000);
      await udpSend(ns.name, PORT, datagrams(3));
      await until(() => cli.stdout().trim().split('\n').filter((line) => line.startsWith('packet received')).length === 3, { what: output(cli), timeoutMs: 10_000 });
      cli.child.kill('SIGTERM');
      expect(await cli.exited, cli.stderr()).toBe(0);
      expect(summaryOf(cli.stderr())).toEqual({ packets: 3, accepted: 0, dropped: 3 });
      expect(receiver.received).toEqual([]);
      expect(await boundQueues(ns.name)).toEqual([]);
    }),
  );

  it('the installed nf-queue --queue-balance 44:45: a worker per queue, both verdict, --count over both', { timeout: 30_000 }, () =>
    withNamespace(async (ns) => {
      await queueUdpTo(ns.name, PORT, '44:45');
      const receiver = await udpReceiver(ns, PORT);
      const cli = start(runtimes[runtime](), [join(folder, 'node_modules/@nfq/cli/bin/nf-queue.js'), '--netns', ns.name, '--queue-balance', '44:45', '--json', '--count', '16']);
      await waitBound(ns.name, [44, 45], output(cli), 10_000);
      // The kernel's flow hash covers addresses only: several sources spread over both queues.
      for (let i = 0; i < 16; i++) await udpSend(ns.name, PORT, [Buffer.from(`datagram ${i}`)], { source: `127.0.0.${i + 2}` });
      expect(await cli.exited, cli.stderr()).toBe(0);
      expect((await receiver.waitFor(16)).map(String).sort()).toEqual(Array.from({ length: 16 }, (_, i) => `datagram ${i}`).sort());
      expect(new Set(cli.jsonLines().map((packet) => packet.queue))).toEqual(new Set([44, 45]));
      expect(summaryOf(cli.stderr())).toEqual({ packets: 16, accepted: 16, dropped: 0 });
    }),
  );
});

/**
 * The real command on the real kernel: `nf-queue --netns NS --count N QUEUE` in a private
 * network namespace with its own iptables rule, fed real UDP. Needs root; never skipped.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/nf-queue.js', import.meta.url));

/** Sends `count` datagrams to 127.0.0.1:`port` and counts what a receiver there got, all inside `ns`. */
const TRAFFIC = `
const dgram = require('node:dgram');
const [port, count] = process.argv.slice(1).map(Number);
const receiver = dgram.createSocket('udp4');
let received = 0;
receiver.on('message', () => { received++; });
receiver.bind(port, '127.0.0.1', () => {
  const sender = dgram.createSocket('udp4');
  let sent = 0;
  const next = () => sent === count ? sender.close() : sender.send('datagram ' + sent++, port, '127.0.0.1', next);
  next();
  setTimeout(() => { receiver.close(); console.log(received); }, 1500);
});`;

it('prints one nf-queue.c line per packet, accepts each and exits 0 after --count', { timeout: 20_000 }, async () => {
  const ns = `nfqt-cli-${process.pid}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['netns', 'exec', ns, 'iptables', '-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9999', '-j', 'NFQUEUE', '--queue-num', '3']);
    const cli = spawn(process.execPath, [bin, '--netns', ns, '--count', '5', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    cli.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    for (let waited = 0; ; waited += 50) {
      const { stdout: table } = await run('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netfilter/nfnetlink_queue']);
      if (table.split('\n').some((line) => line.trim().split(/\s+/)[0] === '3')) break;
      expect(waited, `nf-queue never bound queue 3: ${stderr}`).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { stdout: received } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', TRAFFIC, '9999', '5']);
    expect(await exited, stderr).toBe(0);
    expect(Number(received.trim())).toBe(5);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toMatch(/^packet received \(id=\d+ hw=0x0800 hook=3, payload len 38(, checksum not ready)?\)$/);
    }
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
});

it('says that it needs CAP_NET_ADMIN when run without it, and exits 1', async () => {
  const ns = `nfqt-cli-${process.pid}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    const unprivileged = ['netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const failed = await run('ip', [...unprivileged, '--inh-caps=-all', '--bounding-set=-all', process.execPath, bin, '4']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('CAP_NET_ADMIN');
    expect(failed?.stderr?.trim().split('\n')).toHaveLength(1);
  } finally {
    await run('ip', ['netns', 'delete', ns]);
  }
});

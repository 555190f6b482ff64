/**
 * Without a kernel: `nf-queue demo`'s packet descriptions and usage errors, and the bin's
 * dispatch of `stats`, `doctor` and `demo` to their modules.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { describeDemoPacket, main } from '../src/commands/demo.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/nf-queue.js', import.meta.url));

/** IPv4 header, 20 bytes: version 4 IHL 5, total length, TTL 64, `protocol`, 127.0.0.1 -> 127.0.0.1 (checksum left 0). */
function ipv4(protocol: number, l4: number[]): Uint8Array {
  const total = 20 + l4.length;
  return Uint8Array.from([0x45, 0, total >> 8, total & 0xff, 0, 0, 0x40, 0, 64, protocol, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, ...l4]);
}

describe('describeDemoPacket', () => {
  it('names UDP with ports', () => {
    // UDP: source port 40000 (0x9c40), destination 9999 (0x270f), length 12, checksum 0, 4 bytes of data
    expect(describeDemoPacket(ipv4(17, [0x9c, 0x40, 0x27, 0x0f, 0, 12, 0, 0, 1, 2, 3, 4]))).toBe('UDP 127.0.0.1:40000 > 127.0.0.1:9999');
  });

  it('names ICMP port unreachable', () => {
    // ICMP: type 3 (destination unreachable), code 3 (port), checksum 0, unused 4 bytes
    expect(describeDemoPacket(ipv4(1, [3, 3, 0, 0, 0, 0, 0, 0]))).toBe('ICMP 127.0.0.1 > 127.0.0.1 type 3 code 3 (port unreachable)');
  });

  it('says so for bytes that are no IP packet', () => {
    expect(describeDemoPacket(Uint8Array.from([0x00, 1, 2]))).toBe('unparsed packet');
  });
});

describe('nf-queue demo arguments', () => {
  it('takes no option but --help; anything else exits 2 before doing anything', async () => {
    const errors: string[] = [];
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => errors.push(line) };
    expect(await main(['--fast'], { output })).toBe(2);
    expect(errors).toEqual(['nf-queue demo: unknown option --fast (see nf-queue demo --help)']);
    expect(lines).toEqual([]);
    expect(await main(['--help'], { output })).toBe(0);
    expect(lines[0]).toBe('Usage: nf-queue demo');
  });
});

describe('bin/nf-queue.js dispatch', () => {
  it.each(['stats', 'doctor', 'demo'])('runs `%s --help` from dist/commands and exits 0', async (name) => {
    const { stdout } = await run(process.execPath, [bin, name, '--help']);
    expect(stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: nf-queue ${name}\\b`));
  });

  it('passes the remaining arguments: a wrong one exits 2 with one line', async () => {
    const failed = await run(process.execPath, [bin, 'stats', '--nope']).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toBe('nf-queue stats: unknown option --nope (see nf-queue stats --help)\n');
  });
});

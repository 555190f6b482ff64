/** The pcap writer of `--pcap`, byte by byte: written to a temporary file and read back. */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LINKTYPE_RAW, PCAP_MAGIC, openPcapWriter, pcapGlobalHeader, pcapNow } from '../src/index.js';

const mkfifo = (path: string): void => void execFileSync('mkfifo', [path]);

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'nfq-pcap-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('pcap writer', () => {
  it('writes the global header: magic, version 2.4, zone 0, sigfigs 0, snaplen 65535, LINKTYPE_RAW', () => {
    const header = pcapGlobalHeader();
    expect(header).toEqual(
      Buffer.from([
        0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4, little-endian
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0x00, 0x00, 0x00, 0x00, // thiszone
        0x00, 0x00, 0x00, 0x00, // sigfigs
        0xff, 0xff, 0x00, 0x00, // snaplen 65535
        0x65, 0x00, 0x00, 0x00, // linktype 101
      ]),
    );
    expect(header.readUInt32LE(0)).toBe(PCAP_MAGIC);
    expect(header.readUInt32LE(20)).toBe(LINKTYPE_RAW);
  });

  it('writes one record per packet with its timestamp, included and original lengths, and closes the file', async () => {
    const path = join(directory, 'capture.pcap');
    const writer = await openPcapWriter(path);
    const first = Buffer.from('45000014000000004001', 'hex'); // 10 bytes, whole
    const second = Buffer.from('4500abcd', 'hex'); // 4 bytes of a 1500-byte packet (copy range)
    writer.write(first, undefined, { sec: 1_700_000_000, usec: 123_456 });
    writer.write(second, 1500, { sec: 1_700_000_001, usec: 7 });
    const before = Math.floor(Date.now() / 1000);
    writer.write(Buffer.alloc(0), undefined, undefined); // no kernel timestamp: now
    expect(writer.records).toBe(3);
    await writer.close();
    await writer.close(); // idempotent
    const bytes = await readFile(path);
    expect(bytes.length).toBe(24 + 16 + 10 + 16 + 4 + 16);
    expect(bytes.subarray(0, 24)).toEqual(pcapGlobalHeader());
    let at = 24;
    const record = (): { sec: number; usec: number; incl: number; orig: number; data: Buffer } => {
      const entry = {
        sec: bytes.readUInt32LE(at),
        usec: bytes.readUInt32LE(at + 4),
        incl: bytes.readUInt32LE(at + 8),
        orig: bytes.readUInt32LE(at + 12),
        data: bytes.subarray(at + 16, at + 16 + bytes.readUInt32LE(at + 8)),
      };
      at += 16 + entry.incl;
      return entry;
    };
    expect(record()).toEqual({ sec: 1_700_000_000, usec: 123_456, incl: 10, orig: 10, data: first });
    expect(record()).toEqual({ sec: 1_700_000_001, usec: 7, incl: 4, orig: 1500, data: second });
    const third = record();
    expect(third.incl).toBe(0);
    expect(third.orig).toBe(0);
    expect(third.sec).toBeGreaterThanOrEqual(before);
    expect(third.sec).toBeLessThanOrEqual(before + 2);
    expect(third.usec).toBeLessThan(1_000_000);
    expect(at).toBe(bytes.length);
  });

  it('refuses a file it cannot create, naming it', async () => {
    const path = join(directory, 'missing', 'capture.pcap');
    await expect(openPcapWriter(path)).rejects.toThrow(`cannot write the pcap file ${path}`);
  });

  it('turns milliseconds into seconds and microseconds', () => {
    expect(pcapNow(1_700_000_000_250)).toEqual({ sec: 1_700_000_000, usec: 250_000 });
    expect(pcapNow(1_700_000_000_250.5)).toEqual({ sec: 1_700_000_000, usec: 250_500 });
    const before = Date.now();
    const now = pcapNow();
    const after = Date.now();
    const ms = now.sec * 1000 + now.usec / 1000;
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after + 1);
  });

  it('rejects a device that is full at the header, naming it', async () => {
    await expect(openPcapWriter('/dev/full')).rejects.toThrow('cannot write the pcap file /dev/full: ENOSPC');
  });

  it('waits for the reader of a FIFO without blocking the event loop, and gives up when aborted', async () => {
    const path = join(directory, 'fifo');
    mkfifo(path);
    const controller = new AbortController();
    let waiting = 0;
    const opened = openPcapWriter(path, { signal: controller.signal, onWaitingForReader: () => waiting++ });
    let ticks = 0;
    const ticking = setInterval(() => ticks++, 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    clearInterval(ticking);
    expect(waiting).toBe(1);
    expect(ticks).toBeGreaterThan(5); // timers ran meanwhile
    controller.abort();
    await expect(opened).rejects.toThrow(/abort/i);
  });

  it('to a FIFO whose reader does not read: holds at most bufferBytes, drops and counts the rest, closes by its deadline counting what is lost', async () => {
    const path = join(directory, 'fifo');
    mkfifo(path);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const writer = await openPcapWriter(path, { bufferBytes: 64 * 1024 });
      const payload = Buffer.alloc(1000, 0x45);
      for (let i = 0; i < 1000; i++) writer.write(payload, undefined, { sec: 1, usec: i });
      expect(writer.records + writer.dropped).toBe(1000);
      expect(writer.dropped).toBeGreaterThan(800); // ~64 KiB of the 1 MB held, plus what the pipe took
      const started = performance.now();
      await writer.close(200);
      expect(performance.now() - started).toBeLessThan(10_000); // a hang detector: close gives up after 200 ms
      expect(writer.lost).toBeGreaterThan(0);
      expect(writer.error).toBeUndefined();
      // What reached the pipe starts with the global header, then whole records.
      const head = Buffer.alloc(24 + 16);
      expect(readSync(reader, head)).toBe(40);
      expect(head.subarray(0, 24)).toEqual(pcapGlobalHeader());
      expect(head.readUInt32LE(24 + 8)).toBe(1000);
    } finally {
      closeSync(reader);
    }
  });

  it('reports EPIPE once when the reader of a FIFO goes away, and writes nothing after', async () => {
    const path = join(directory, 'fifo');
    mkfifo(path);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = await openPcapWriter(path);
    closeSync(reader);
    const errors: string[] = [];
    writer.onError((error) => errors.push((error as NodeJS.ErrnoException).code ?? error.message));
    writer.write(Buffer.alloc(100), undefined, undefined);
    for (let waited = 0; errors.length === 0 && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    writer.write(Buffer.alloc(100), undefined, undefined);
    await writer.close();
    expect(errors).toEqual(['EPIPE']);
    expect(writer.lost).toBe(1);
  });
});

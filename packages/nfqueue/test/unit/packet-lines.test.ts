/**
 * `Packet.toString()` gives the line of libnetfilter_queue's nf-queue.c, the same line nfq-core's
 * `PacketView` displays as: both are held to fixtures/lines/nf-queue.json, made from the packets of
 * the decode fixtures.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Packet, type VerdictSink } from '../../src/packet.js';

const fixtures = new URL('../../../../fixtures/', import.meta.url);

interface PacketLine {
  /** Fixture whose `decode.hex` holds the packet. */
  fixture: string;
  /** Index of the packet's message in those bytes. */
  message: number;
  /** The line. */
  line: string;
}

const lines = (JSON.parse(readFileSync(new URL('lines/nf-queue.json', fixtures), 'utf8')) as { lines: PacketLine[] }).lines;

const sink: VerdictSink = { appendVerdict: () => {}, interfaceName: () => undefined };

/** The packet of message `index` of `bytes` (messages back to back, each `nlmsg_len` long). */
function packetAt(bytes: Buffer, index: number): Packet {
  let start = 0;
  for (let i = 0; i < index; i++) start += (bytes.readUInt32LE(start) + 3) & ~3;
  return new Packet(bytes, start, bytes.buffer, bytes.byteOffset, sink, -1);
}

describe('the nf-queue line of a packet', () => {
  it.each(lines.map((entry) => [`${entry.fixture} #${entry.message}`, entry] as const))('%s', (_, { fixture, message, line }) => {
    const { decode } = JSON.parse(readFileSync(new URL(`${fixture}.json`, fixtures), 'utf8')) as { decode: { hex: string } };
    expect(packetAt(Buffer.from(decode.hex, 'hex'), message).toString()).toBe(line);
  });

  it('covers the prefixes and optional parts', () => {
    const all = lines.map((entry) => entry.line).join('\n');
    for (const part of ['truncated ', 'GSO ', ', hwaddr ', ', checksum not ready']) expect(all).toContain(part);
  });
});

import { describe, expect, it } from 'vitest';
import { formatPacketJson, formatStatus, formatSummary } from '../src/index.js';

describe('formatSummary', () => {
  const counters = {
    received: 4,
    verdicts: { accept: 3, drop: 1, repeat: 0, queue: 0, stop: 0, batch: 0 },
    defaultVerdicts: { handlerError: 0, timeout: 0, close: 1, cutByReceiver: 0 },
    overruns: 2,
  };

  it('starts with the packet count, gives verdicts by kind, default causes, overruns, seconds and rate', () => {
    expect(formatSummary(counters, 2)).toBe(
      'nf-queue: 4 packets: 3 accepted, 1 dropped, 1 by default (close 1); 2 overrun events; 2.00 s, 2.00 packets/s',
    );
  });

  it('names other verdict kinds and default causes only when they happened, and survives 0 s', () => {
    expect(formatSummary({ ...counters, verdicts: { ...counters.verdicts, repeat: 2 }, defaultVerdicts: { timeout: 1, handlerError: 2 } }, 0)).toBe(
      'nf-queue: 4 packets: 3 accepted, 1 dropped, 2 repeated, 3 by default (timeout 1, handler error 2); 2 overrun events; 0.00 s, 0.00 packets/s',
    );
    expect(formatSummary({ received: 1000, verdicts: { accept: 1000, drop: 0 }, overruns: 0 }, 4)).toBe(
      'nf-queue: 1000 packets: 1000 accepted, 0 dropped; 0 overrun events; 4.00 s, 250 packets/s',
    );
    expect(formatSummary({ ...counters, overruns: 1 }, 2)).toContain('; 1 overrun event; ');
  });

  it('names the kernel\'s drops (queue full, socket full) apart from the drop verdicts and the overrun events', () => {
    expect(formatSummary(counters, 2, { kernelDrops: { queueFull: 3, socketFull: 1971 } })).toBe(
      'nf-queue: 4 packets: 3 accepted, 1 dropped, 1 by default (close 1); 1974 dropped by the kernel (3 queue full, 1971 socket full); 2 overrun events; 2.00 s, 2.00 packets/s',
    );
  });

  it('ends with the lines not printed and the pcap records not written, only when there are any', () => {
    const base = 'nf-queue: 4 packets: 3 accepted, 1 dropped, 1 by default (close 1); 2 overrun events; 2.00 s, 2.00 packets/s';
    expect(formatSummary(counters, 2, { linesDropped: 0, pcap: { path: 'x.pcap', dropped: 0, lost: 0 } })).toBe(base);
    expect(formatSummary(counters, 2, { linesDropped: 7, pcap: { path: 'x.pcap', dropped: 5, lost: 2 } })).toBe(
      `${base}; 7 lines not printed (stdout was behind); 7 pcap records not in x.pcap (5 dropped while it was behind, 2 lost unwritten)`,
    );
    expect(formatSummary(counters, 2, { pcap: { path: 'x.pcap', dropped: 0, lost: 3 } })).toBe(`${base}; 3 pcap records not in x.pcap (3 lost unwritten)`);
  });
});

describe('formatStatus', () => {
  it('shows the rate, totals, overruns and kernel drops when known', () => {
    const status = { received: 1234, rate: 119.6, accepted: 1200, dropped: 34, overruns: 1, kernelDrops: 5 };
    expect(formatStatus(status)).toBe('nf-queue: 120 packets/s, 1234 packets, 1200 accepted, 34 dropped, 5 dropped by the kernel, 1 overrun events');
    expect(formatStatus({ ...status, kernelDrops: undefined })).toBe('nf-queue: 120 packets/s, 1234 packets, 1200 accepted, 34 dropped, 1 overrun events');
  });
});

describe('formatPacketJson', () => {
  it('is one line of the packet\'s toJSON()', () => {
    const line = formatPacketJson({ toJSON: () => ({ id: 1, hook: 3, payload: '4500', note: 'a\nb' }) });
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ id: 1, hook: 3, payload: '4500', note: 'a\nb' });
  });

  it('adds the verdict given, and the marks only when it sets them', () => {
    const packet = { toJSON: () => ({ id: 1, mark: 3 }) };
    expect(JSON.parse(formatPacketJson(packet, { verdict: 'drop', mark: undefined }))).toEqual({ id: 1, mark: 3, verdict: 'drop' });
    expect(JSON.parse(formatPacketJson(packet, { verdict: 'accept', mark: 0, connmark: 9 }))).toEqual({ id: 1, mark: 3, verdict: 'accept', verdictMark: 0, verdictConnmark: 9 });
  });
});

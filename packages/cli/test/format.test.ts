import { describe, expect, it } from 'vitest';
import { formatPacketLine } from '../src/index.js';

const base = { id: 1, hwProtocol: 0x0800, hook: 3, payload: { length: 84 }, truncated: false, gso: false, checksumNotReady: false };

describe('formatPacketLine (as libnetfilter_queue examples/nf-queue.c)', () => {
  it('prints the plain line', () => {
    expect(formatPacketLine(base)).toBe('packet received (id=1 hw=0x0800 hook=3, payload len 84)');
  });

  it('pads the hardware protocol to four hex digits', () => {
    expect(formatPacketLine({ ...base, hwProtocol: 0x86dd })).toContain('hw=0x86dd');
    expect(formatPacketLine({ ...base, hwProtocol: 0x806 })).toContain('hw=0x0806');
  });

  it('prefixes truncated', () => {
    expect(formatPacketLine({ ...base, truncated: true })).toBe(
      'truncated packet received (id=1 hw=0x0800 hook=3, payload len 84)',
    );
  });

  it('prefixes GSO and appends checksum not ready', () => {
    expect(formatPacketLine({ ...base, gso: true })).toBe('GSO packet received (id=1 hw=0x0800 hook=3, payload len 84)');
    expect(formatPacketLine({ ...base, checksumNotReady: true })).toBe(
      'packet received (id=1 hw=0x0800 hook=3, payload len 84, checksum not ready)',
    );
    expect(formatPacketLine({ ...base, truncated: true, gso: true, checksumNotReady: true })).toBe(
      'truncated GSO packet received (id=1 hw=0x0800 hook=3, payload len 84, checksum not ready)',
    );
  });

  it('prints the hardware address inside the parentheses', () => {
    const hwAddr = Uint8Array.of(0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff);
    expect(formatPacketLine({ ...base, hwAddr, checksumNotReady: true })).toBe(
      'packet received (id=1 hw=0x0800 hook=3, payload len 84, hwaddr aa:bb:cc:0d:ee:ff len 6, checksum not ready)',
    );
  });
});

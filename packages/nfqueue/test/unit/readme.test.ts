/** The README's packet-helper example, run on a real packet from the fixtures. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UdpHeader, mangle, parseIp, verifyChecksums } from '../../src/index.js';

describe('README: packet helpers', () => {
  it('replaces 5 bytes of a UDP payload with 13 and fixes lengths and checksums', () => {
    const fixture = JSON.parse(readFileSync(new URL('../../../../fixtures/kernel-udp4-output.json', import.meta.url), 'utf8'));
    const payload = Buffer.from(fixture.decode.expect.messages[0].payload, 'hex');
    const { l4 } = parseIp(payload);
    expect(l4).toBeInstanceOf(UdpHeader);
    expect(Buffer.from((l4 as UdpHeader).payload).subarray(0, 5).toString()).toBe('hello');
    const changed = mangle(payload, { offset: 0, length: 5, replacement: Buffer.from('hello, world!') });
    expect(changed.length).toBe(payload.length + 8);
    const reparsed = parseIp(changed);
    expect(Buffer.from((reparsed.l4 as UdpHeader).payload).toString()).toBe('hello, world! from the kernel fixture recorder');
    expect(verifyChecksums(changed)).toEqual({ ipHeader: true, transport: true });
  });
});

import { NFQA_CT, NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO, PacketView, buildPacketMessage } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { InvalidVerdictError, Packet } from '../../src/index.js';
import { packetPinned } from '../../src/packet.js';

const ignoreVerdicts = { appendVerdict: (): void => undefined, interfaceName: (): undefined => undefined };

function packetOf(options: Partial<Parameters<typeof buildPacketMessage>[0]>): Packet {
  const message = buildPacketMessage({ queue: 1, id: 1, hwProtocol: 0x86dd, hook: 0, family: 10, ...options });
  return new Packet(message, 0, message.buffer, message.byteOffset, ignoreVerdicts, -1);
}

describe('Packet', () => {
  it('tells a payload cut by the copy range from the capture length', () => {
    expect(packetOf({ payload: new Uint8Array(100), capLen: 1500 }).cutByCopyRange).toBe(true);
    expect(packetOf({ payload: new Uint8Array(100) }).cutByCopyRange).toBe(false);
    expect(packetOf({ payload: new Uint8Array(100), capLen: 100 }).cutByCopyRange).toBe(false);
  });

  it('reads GSO and checksum bits of NFQA_SKB_INFO', () => {
    const both = packetOf({ skbInfo: NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY });
    expect([both.gso, both.checksumNotReady]).toEqual([true, true]);
    const none = packetOf({});
    expect([none.gso, none.checksumNotReady, none.skbInfo]).toEqual([false, false, undefined]);
  });

  it('names the hook of its family and gives an empty payload in meta mode', () => {
    const packet = packetOf({});
    expect(packet.hookName).toBe('PREROUTING');
    expect(packet.family).toBe(10);
    expect(packet.payload.length).toBe(0);
    expect(packet.queueNum).toBe(1);
  });

  it('refuses an out-of-range target queue without taking a verdict', () => {
    const packet = packetOf({});
    expect(() => packet.queue(70_000)).toThrow(InvalidVerdictError);
    expect(packet.hasVerdict).toBe(false);
    packet.queue(2);
    expect(packet.hasVerdict).toBe(true);
  });

  describe('toString (the line of libnetfilter_queue examples/nf-queue.c)', () => {
    const payload = new Uint8Array(84);
    it('prints the plain line, the hardware protocol in four hex digits', () => {
      expect(String(packetOf({ payload, hwProtocol: 0x0800, hook: 3 }))).toBe('packet received (id=1 hw=0x0800 hook=3, payload len 84)');
      expect(String(packetOf({ payload, hwProtocol: 0x806, hook: 3 }))).toContain('hw=0x0806');
    });

    it('prefixes truncated and GSO, appends checksum not ready', () => {
      const all = packetOf({ payload, hwProtocol: 0x0800, hook: 3, capLen: 1500, skbInfo: NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY });
      expect(String(all)).toBe('truncated GSO packet received (id=1 hw=0x0800 hook=3, payload len 84, checksum not ready)');
    });

    it('prints the hardware address inside the parentheses', () => {
      const hwAddr = Uint8Array.of(0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff);
      expect(String(packetOf({ payload, hwProtocol: 0x0800, hook: 3, hwAddr, skbInfo: NFQA_SKB_CSUMNOTREADY }))).toBe(
        'packet received (id=1 hw=0x0800 hook=3, payload len 84, hwaddr aa:bb:cc:0d:ee:ff len 6, checksum not ready)',
      );
    });
  });

  it('marks itself as viewed by every accessor of PacketView that hands out bytes, so they are never moved under a view', () => {
    const message = buildPacketMessage({
      queue: 1, id: 1, hwProtocol: 0x0800, hook: 3, family: 2, payload: new Uint8Array(28),
      hwAddr: Uint8Array.of(1, 2, 3, 4, 5, 6), ct: new Uint8Array(8), secctx: Buffer.from('system_u\0'), l2Header: new Uint8Array(14),
    });
    const handsOutBytes = (value: unknown): boolean =>
      value instanceof Uint8Array || (Array.isArray(value) && value.some((item) => (item as { value?: unknown }).value instanceof Uint8Array));
    const names = Object.getOwnPropertyNames(PacketView.prototype).filter((name) => name !== 'constructor' && name !== 'relocate');
    const viewing: string[] = [];
    for (const name of names) {
      const fresh = new Packet(message, 0, message.buffer, message.byteOffset, ignoreVerdicts, 0);
      const descriptor = Object.getOwnPropertyDescriptor(PacketView.prototype, name)!;
      const value = descriptor.get ? Reflect.get(fresh, name) : typeof descriptor.value === 'function' ? (fresh as unknown as Record<string, (type: number) => unknown>)[name]!(NFQA_CT) : undefined;
      if (!handsOutBytes(value)) continue;
      viewing.push(name);
      expect([name, fresh[packetPinned]]).toEqual([name, true]);
    }
    expect(viewing).toEqual(expect.arrayContaining(['bytes', 'payload', 'hwAddr', 'ct', 'attribute', 'l2Header', 'secctxBytes']));
  });
});

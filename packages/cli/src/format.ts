/** Capacity of the kernel's hardware address field; longer lengths are printed as truncated. */
const HWADDR_CAPACITY = 8;

/** What one printed line is made of (a subset of `@nfq/nfqueue`'s `Packet`). */
export interface PacketSummary {
  /** Packet id. */
  readonly id: number;
  /** EtherType. */
  readonly hwProtocol: number;
  /** Hook number. */
  readonly hook: number;
  /** Payload (only its length is printed). */
  readonly payload: { readonly length: number };
  /** The payload is only the first part of the packet (NFQA_CAP_LEN differs from its length). */
  readonly truncated: boolean;
  /** A GSO super-packet (NFQA_SKB_GSO). */
  readonly gso: boolean;
  /** Checksums not computed yet (NFQA_SKB_CSUMNOTREADY). */
  readonly checksumNotReady: boolean;
  /** Source hardware address. */
  readonly hwAddr?: Uint8Array | undefined;
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/**
 * One line per packet, as libnetfilter_queue's `examples/nf-queue.c` prints it, e.g.
 * `packet received (id=1 hw=0x0800 hook=3, payload len 84)`, with `truncated ` and `GSO `
 * prefixes, `, hwaddr aa:bb:cc:dd:ee:ff len 6` and `, checksum not ready` when they apply.
 */
export function formatPacketLine(packet: PacketSummary): string {
  const payloadLength = packet.payload.length;
  let line = '';
  if (packet.truncated) line += 'truncated ';
  if (packet.gso) line += 'GSO ';
  line += `packet received (id=${packet.id} hw=0x${packet.hwProtocol.toString(16).padStart(4, '0')} hook=${packet.hook}, payload len ${payloadLength}`;
  const address = packet.hwAddr;
  if (address !== undefined && address.length > 0) {
    const shown = Array.from(address.subarray(0, HWADDR_CAPACITY), hex2).join(':');
    line += `, hwaddr ${shown}${address.length > HWADDR_CAPACITY ? '[truncated]' : ''} len ${address.length}`;
  }
  if (packet.checksumNotReady) line += ', checksum not ready';
  return `${line})`;
}

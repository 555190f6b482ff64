/**
 * A pcap file writer for `--pcap FILE`: the classic libpcap format that tcpdump -r and
 * Wireshark read, with link type LINKTYPE_RAW (the packet starts at its IP header, as NFQUEUE
 * payloads do). Written little-endian; readers tell the byte order from the magic number.
 *
 * ```text
 * global header (24 bytes)                 record header (16 bytes), then incl_len bytes
 *  0  magic      0xa1b2c3d4 (microseconds)   0  ts_sec    seconds since 1970
 *  4  version    2.4 (u16 major, u16 minor)  4  ts_usec   microseconds
 *  8  thiszone   0                           8  incl_len  bytes stored
 * 12  sigfigs    0                          12  orig_len  bytes the packet had
 * 16  snaplen    65535
 * 20  linktype   101 (LINKTYPE_RAW)
 * ```
 */
import { createWriteStream, type WriteStream } from 'node:fs';

/** The magic number of a pcap file with microsecond timestamps. */
export const PCAP_MAGIC = 0xa1b2c3d4;
/** LINKTYPE_RAW: each packet starts with its IPv4 or IPv6 header. */
export const LINKTYPE_RAW = 101;
/** The snapshot length written in the global header (the largest NFQUEUE copy range). */
export const PCAP_SNAPLEN = 65535;
/** Bytes of the global header. */
export const PCAP_GLOBAL_HEADER_LENGTH = 24;
/** Bytes of a record header. */
export const PCAP_RECORD_HEADER_LENGTH = 16;

/** A capture time: whole seconds and microseconds, as NFQA_TIMESTAMP gives it. */
export interface PcapTimestamp {
  /** Seconds since 1970-01-01 UTC. */
  readonly sec: number;
  /** Microseconds within the second. */
  readonly usec: number;
}

/** The 24-byte global header of a pcap file with link type `linkType` (default raw IP). */
export function pcapGlobalHeader(linkType = LINKTYPE_RAW): Buffer {
  const header = Buffer.alloc(PCAP_GLOBAL_HEADER_LENGTH);
  header.writeUInt32LE(PCAP_MAGIC, 0);
  header.writeUInt16LE(2, 4); // version major
  header.writeUInt16LE(4, 6); // version minor
  header.writeInt32LE(0, 8); // thiszone: timestamps are UTC
  header.writeUInt32LE(0, 12); // sigfigs
  header.writeUInt32LE(PCAP_SNAPLEN, 16);
  header.writeUInt32LE(linkType, 20);
  return header;
}

/** The 16-byte header of one record: `includedLength` bytes follow, of a packet of `originalLength`. */
export function pcapRecordHeader(timestamp: PcapTimestamp, includedLength: number, originalLength: number): Buffer {
  const header = Buffer.alloc(PCAP_RECORD_HEADER_LENGTH);
  header.writeUInt32LE(timestamp.sec >>> 0, 0);
  header.writeUInt32LE(timestamp.usec >>> 0, 4);
  header.writeUInt32LE(includedLength, 8);
  header.writeUInt32LE(Math.max(originalLength, includedLength), 12);
  return header;
}

/** The current time as a pcap timestamp. */
export function pcapNow(now: number = Date.now()): PcapTimestamp {
  return { sec: Math.floor(now / 1000), usec: Math.floor(now % 1000) * 1000 };
}

/** Writes packets to a pcap file. Made by {@link openPcapWriter}. */
export class PcapWriter {
  readonly #stream: WriteStream;
  #records = 0;
  #error: Error | undefined;
  #closed: Promise<void> | undefined;

  /** Wraps an opened stream whose global header is written already. @internal */
  constructor(stream: WriteStream) {
    this.#stream = stream;
    stream.on('error', (error) => (this.#error ??= error));
  }

  /** The file descriptor (worker threads append records to it with one write() each). */
  get fd(): number {
    return (this.#stream as unknown as { fd: number }).fd;
  }

  /** Records written so far. */
  get records(): number {
    return this.#records;
  }

  /**
   * Appends one packet: `payload` (from the IP header on), `originalLength` its length before
   * the copy range cut it (`packet.capLen`; the payload's length when not cut), at `timestamp`
   * (the kernel's, or now).
   */
  write(payload: Uint8Array, originalLength: number | undefined, timestamp: PcapTimestamp | undefined): void {
    if (this.#closed) return;
    const length = Math.min(payload.length, PCAP_SNAPLEN);
    this.#stream.write(pcapRecordHeader(timestamp ?? pcapNow(), length, originalLength ?? payload.length));
    // Copy: the payload is a view into a receive buffer that is reused.
    this.#stream.write(Buffer.from(payload.subarray(0, length)));
    this.#records++;
  }

  /** Flushes and closes the file; rejects with the first write error, if any. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      // 'close' follows both a finished write and an error (autoDestroy).
      this.#stream.once('close', () => (this.#error ? reject(this.#error) : resolve()));
      this.#stream.end();
    });
    return this.#closed;
  }
}

/**
 * Creates (or truncates) the pcap file at `path` and writes its global header; resolves once the
 * header is written, rejects when it cannot be created (the error's message names the file).
 */
export function openPcapWriter(path: string): Promise<PcapWriter> {
  return new Promise((resolve, reject) => {
    const stream = createWriteStream(path);
    stream.once('error', (error) => reject(new Error(`cannot write the pcap file ${path}: ${error.message}`, { cause: error })));
    stream.once('open', () => {
      stream.removeAllListeners('error');
      const writer = new PcapWriter(stream);
      // Resolve once the header is in the file: records written to the fd directly follow it.
      stream.write(pcapGlobalHeader(), () => resolve(writer));
    });
  });
}

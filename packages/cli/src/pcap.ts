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
import { constants, fstat, open, write as writeFd, close as closeFd } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';

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

/** The current time (milliseconds since 1970, to the microsecond by default) as a pcap timestamp. */
export function pcapNow(now: number = performance.timeOrigin + performance.now()): PcapTimestamp {
  const sec = Math.floor(now / 1000);
  return { sec, usec: Math.min(Math.floor((now - sec * 1000) * 1000), 999_999) };
}

/** Bytes of records a {@link PcapWriter} holds while the file (or a FIFO's reader) is behind: 8 MiB. */
export const PCAP_BUFFER_BYTES = 8 * 1024 * 1024;
/** How long {@link PcapWriter.close} waits for the held records to be written: 2 s. */
export const PCAP_CLOSE_DEADLINE_MS = 2000;
/** How often a FIFO with no reader is tried again while {@link openPcapWriter} waits, in ms. */
export const FIFO_POLL_MS = 100;

/** How {@link openPcapWriter} opens the file. */
export interface PcapWriterOptions {
  /** Gives up (rejects with an AbortError) while waiting for a FIFO's reader. */
  signal?: AbortSignal | undefined;
  /** Called once when `path` is a FIFO that nobody has opened for reading yet. */
  onWaitingForReader?: (() => void) | undefined;
  /** Most bytes held while writing is behind (default {@link PCAP_BUFFER_BYTES}); records beyond are dropped and counted. */
  bufferBytes?: number | undefined;
}

/** Where the bytes go: a pipe through the event loop, or a file through fs writes. Both never block. */
interface Sink {
  /** Bytes accepted and not yet written. */
  pending(): number;
  /** Writes `bytes`; `done` follows once they are written (or with the error). */
  write(bytes: Buffer, done: (error?: Error | null) => void): void;
  /** Releases the descriptor (held writes are abandoned). */
  destroy(): void;
}

function pipeSink(fd: number, onError: (error: Error) => void): Sink {
  // A libuv pipe: non-blocking writes, queued in the event loop while the reader is behind.
  const socket = new Socket({ fd, readable: false, writable: true });
  socket.on('error', onError);
  return {
    pending: () => socket.writableLength,
    write: (bytes, done) => void socket.write(bytes, done),
    destroy: () => socket.destroy(),
  };
}

function fileSink(fd: number): Sink {
  const queue: Array<{ bytes: Buffer; done: (error?: Error | null) => void }> = [];
  let pending = 0;
  let writing = false;
  let destroyed = false;
  const pump = (): void => {
    if (writing || destroyed || queue.length === 0) return;
    const batch = queue.splice(0, queue.length);
    let bytes = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((entry) => entry.bytes));
    writing = true;
    const finish = (error: Error | null): void => {
      writing = false;
      pending -= batch.reduce((sum, entry) => sum + entry.bytes.length, 0);
      for (const entry of batch) entry.done(error);
      if (error) {
        for (const entry of queue.splice(0)) entry.done(error);
        pending = 0;
      } else pump();
    };
    const step = (): void =>
      writeFd(fd, bytes, (error, written) => {
        if (destroyed) {
          closeFd(fd, () => undefined); // only now: a write in flight must not meet a reused descriptor
          return finish(error ?? new Error('closed before written'));
        }
        if (error) return finish(error);
        bytes = bytes.subarray(written);
        if (bytes.length > 0) step();
        else finish(null);
      });
    step();
  };
  return {
    pending: () => pending,
    write(bytes, done) {
      queue.push({ bytes, done });
      pending += bytes.length;
      pump();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      if (!writing) closeFd(fd, () => undefined);
    },
  };
}

/**
 * Writes packets to a pcap file. Made by {@link openPcapWriter}. Never blocks and never grows
 * without bound: while the file (or a FIFO's reader) is behind, up to `bufferBytes` are held and
 * records beyond are dropped and counted ({@link dropped}). The first write error is reported to
 * the {@link onError} handlers; nothing is written after it.
 */
export class PcapWriter {
  readonly #sink: Sink;
  readonly #bufferBytes: number;
  #records = 0;
  #written = 0;
  #dropped = 0;
  #lost = 0;
  #error: Error | undefined;
  readonly #errorHandlers: Array<(error: Error) => void> = [];
  #closed: Promise<void> | undefined;
  #settled: (() => void) | undefined;
  #finished = false;

  /** Wraps an opened descriptor whose global header is written already. @internal */
  constructor(fd: number, pipe: boolean, bufferBytes: number) {
    this.#bufferBytes = bufferBytes;
    this.#sink = pipe ? pipeSink(fd, (error) => this.#fail(error)) : fileSink(fd);
  }

  #fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    for (const handler of this.#errorHandlers) handler(error);
    this.#settled?.();
  }

  /** Calls `handler` on the first write error (EPIPE when a FIFO's reader went away, ENOSPC...). */
  onError(handler: (error: Error) => void): void {
    this.#errorHandlers.push(handler);
    if (this.#error) handler(this.#error);
  }

  /** The first write error, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Records accepted so far (written, or held to be written). */
  get records(): number {
    return this.#records;
  }

  /** Records dropped because too much was held already. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records accepted that were never written: held when a write failed or when {@link close}'s deadline passed. */
  get lost(): number {
    return this.#lost;
  }

  /**
   * Appends one packet: `payload` (from the IP header on), `originalLength` its length before
   * the copy range cut it (`packet.capLen`; the payload's length when not cut), at `timestamp`
   * (the kernel's, or now).
   */
  write(payload: Uint8Array, originalLength: number | undefined, timestamp: PcapTimestamp | undefined): void {
    const length = Math.min(payload.length, PCAP_SNAPLEN);
    const record = Buffer.allocUnsafe(PCAP_RECORD_HEADER_LENGTH + length);
    pcapRecordHeader(timestamp ?? pcapNow(), length, originalLength ?? payload.length).copy(record, 0);
    // Copy: the payload is a view into a receive buffer that is reused.
    record.set(payload.subarray(0, length), PCAP_RECORD_HEADER_LENGTH);
    this.appendRecords(record, 1);
  }

  /** Appends `count` whole records made already (by {@link pcapRecordHeader} and the payload), kept or dropped together. */
  appendRecords(bytes: Uint8Array, count: number): void {
    if (this.#closed || this.#error) return; // the write error (or the close) is reported already
    if (this.#sink.pending() + bytes.length > this.#bufferBytes) {
      this.#dropped += count;
      return;
    }
    this.#records += count;
    this.#sink.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (error) => {
      if (this.#finished) return; // abandoned at the close deadline: counted in lost
      if (error) {
        this.#lost += count;
        this.#fail(error);
      } else {
        this.#written += count;
      }
      if (this.#written + this.#lost >= this.#records) this.#settled?.();
    });
  }

  /**
   * Writes what is held, waiting at most `deadlineMs` (default {@link PCAP_CLOSE_DEADLINE_MS}),
   * and closes the file; what could not be written by then counts in {@link lost}. Never rejects
   * (write errors go to {@link onError}). Idempotent.
   */
  close(deadlineMs = PCAP_CLOSE_DEADLINE_MS): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#settled = undefined;
        this.#finished = true;
        this.#lost = this.#records - this.#written;
        this.#sink.destroy();
        resolve();
      };
      const timer = setTimeout(finish, deadlineMs);
      this.#settled = finish;
      if (this.#error || this.#written + this.#lost >= this.#records) finish();
    });
    return this.#closed;
  }
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);
const writeAll = promisify(writeFd);

/**
 * Creates (or truncates) the pcap file at `path` and writes its global header; resolves once the
 * header is written, rejects when it cannot be (the error's message names the file). A FIFO is
 * opened without blocking: while nobody reads it, `onWaitingForReader` is called once and the
 * open is tried again every {@link FIFO_POLL_MS} until a reader comes or `signal` aborts.
 */
export async function openPcapWriter(path: string, options: PcapWriterOptions = {}): Promise<PcapWriter> {
  const failure = (error: Error): Error => new Error(`cannot write the pcap file ${path}: ${error.message}`, { cause: error });
  // O_NONBLOCK: opening a FIFO for writing never waits for a reader (ENXIO while there is none).
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK;
  let fd: number;
  for (let waiting = false; ; ) {
    options.signal?.throwIfAborted();
    try {
      fd = await openFd(path, flags, 0o644);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw failure(error as Error);
      if (!waiting) options.onWaitingForReader?.();
      waiting = true;
      await new Promise((resolve) => setTimeout(resolve, FIFO_POLL_MS));
    }
  }
  try {
    const stat = await fstatFd(fd);
    const pipe = stat.isFIFO() || stat.isSocket();
    // A FIFO's pipe is empty when its reader just opened it: the header fits whole.
    await writeAll(fd, pcapGlobalHeader());
    return new PcapWriter(fd, pipe, options.bufferBytes ?? PCAP_BUFFER_BYTES);
  } catch (error) {
    closeFd(fd, () => undefined);
    throw failure(error as Error);
  }
}

/**
 * The `CliEnvironment` of the unit tests: the real `@nfq/nfqueue` queue on a fake native binding
 * (no kernel), and recorders for everything else the command touches.
 */
import { type NativeBinding, type NativeQueue, type Queue, type QueueOptions, openQueue } from '@nfq/nfqueue';
import { type PacketMessageOptions, buildPacketMessage, iterateMessages } from '@nfq/netlink';
import type { AddedRule, CliEnvironment, PacketRecorder, PcapTimestamp, RuleSpec } from '../src/index.js';

/** A packet the test pushes: an id, or more of the message's attributes. */
export type FakePacket = number | (Partial<PacketMessageOptions> & { id: number });

/** A native queue with no kernel behind it: records verdicts (with their marks), lets the test push packets. */
export class FakeNative implements NativeQueue {
  readonly queueNum: number;
  readonly portId = 1;
  /** [id, verdict, mark] of every verdict sent; mark undefined when none was set. */
  readonly verdicts: Array<[id: number, verdict: number] | [id: number, verdict: number, mark: number]> = [];
  closed = false;
  /** Ids pushed and not verdicted yet, for VERDICT_BATCH messages. */
  #waiting: number[] = [];
  #onBatch?: (err: Error | null, batch: Buffer) => void;
  constructor(options: { queue: number }) {
    this.queueNum = options.queue;
  }
  start(onBatch: (err: Error | null, batch: Buffer) => void): void {
    this.#onBatch = onBatch;
  }
  push(...packets: FakePacket[]): void {
    const messages = packets.map((packet) => {
      const spec = typeof packet === 'number' ? { id: packet } : packet;
      this.#waiting.push(spec.id);
      return buildPacketMessage({ queue: this.queueNum, hwProtocol: 0x0800, hook: 3, payload: new Uint8Array(28), ...spec });
    });
    this.#onBatch!(null, Buffer.concat(messages));
  }
  sendVerdicts(given: Uint8Array, length?: number): void {
    for (const message of iterateMessages(given.subarray(0, length ?? given.length))) {
      const bytes = message.bytes;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const id = view.getUint32(28); // NFQA_VERDICT_HDR (at 20: nla header, then verdict, id)
      const verdict = view.getUint32(24);
      // Attributes after the verdict header: NFQA_MARK is type 3.
      let mark: number | undefined;
      for (let offset = 32; offset + 4 <= bytes.length; ) {
        const length = view.getUint16(offset, true);
        const type = view.getUint16(offset + 2, true) & 0x3fff;
        if (type === 3 && length === 8) mark = view.getUint32(offset + 4);
        if (length < 4) break;
        offset += (length + 3) & ~3;
      }
      // NFQNL_MSG_VERDICT_BATCH (3): every waiting packet up to id; NFQNL_MSG_VERDICT (1): this one.
      const batch = (view.getUint16(4, true) & 0xff) === 3;
      const ids = batch ? this.#waiting.filter((waiting) => waiting <= id) : [id];
      this.#waiting = this.#waiting.filter((waiting) => !ids.includes(waiting));
      for (const verdicted of ids) this.verdicts.push(mark === undefined ? [verdicted, verdict] : [verdicted, verdict, mark]);
    }
  }
  readonly overrunCount = 0;
  stats() {
    return { overruns: 0, batches: 0, messages: 0, cutByReceiver: 0, verdictsSent: this.verdicts.length, verdictSends: 0 };
  }
  stopReceiving(): void {}
  close(): void {
    this.closed = true;
  }
  pause(): void {}
  resume(): void {}
  receivePending(): Buffer | null {
    return null;
  }
  interfaces(): Array<{ index: number; name: string }> {
    return [{ index: 1, name: 'lo' }];
  }
}

/** A pcap recorder that keeps the records in memory. */
export interface FakeRecorder extends PacketRecorder {
  readonly records: Array<{ payload: Buffer; originalLength: number | undefined; timestamp: PcapTimestamp | undefined }>;
  closed: boolean;
  dropped: number;
  lost: number;
  /** Makes the recorder fail as a write error would. */
  fail(error: Error): void;
}

/** A fake environment and what it recorded. */
export interface FakeEnvironment {
  environment: CliEnvironment;
  /** stdout lines. */
  lines: string[];
  /** stderr lines. */
  errors: string[];
  /** What was written as status (raw, with control characters), in order with `errors` in `stderr`. */
  status: string[];
  /** Everything written to stderr, status and lines, in order. */
  stderr: string[];
  natives: FakeNative[];
  openedWith: QueueOptions[];
  rulesAdded: RuleSpec[];
  rulesRemoved: RuleSpec[];
  usersDropped: string[];
  recorders: FakeRecorder[];
  /** Sends SIGTERM to the run. */
  signal: () => void;
  /** Fails standard output as a write would (e.g. an EPIPE error). */
  failStdout: (error: NodeJS.ErrnoException) => void;
  /** What `stdoutDropped()` answers. */
  stdoutDropped: number;
}

/** A fresh fake environment; `overrides` replace parts of it (e.g. `stderrIsTerminal: true`). */
export function fakeEnvironment(overrides: Partial<CliEnvironment> = {}): FakeEnvironment {
  const fake: Omit<FakeEnvironment, 'environment' | 'signal' | 'failStdout'> = {
    stdoutDropped: 0,
    lines: [],
    errors: [],
    status: [],
    stderr: [],
    natives: [],
    openedWith: [],
    rulesAdded: [],
    rulesRemoved: [],
    usersDropped: [],
    recorders: [],
  };
  let signalHandler: ((signal: string) => void) | undefined;
  const stdoutHandlers: Array<(error: NodeJS.ErrnoException) => void> = [];
  let stdoutFailed = false;
  const binding: NativeBinding = {
    NativeQueue: {
      open: (options) => {
        const native = new FakeNative(options);
        fake.natives.push(native);
        return native;
      },
    },
    boundQueues: () => [],
  };
  let clock = 0;
  const environment: CliEnvironment = {
    openQueue: (options): Promise<Queue> => {
      fake.openedWith.push(options);
      return openQueue(options, { binding });
    },
    openQueueRange: () => Promise.reject(new Error('no ranges in the fake environment')),
    kernelQueueStats: () => [],
    dropPrivileges: (user) => {
      fake.usersDropped.push(user);
      return { uid: 65534, gid: 65534 };
    },
    addRule: async (spec): Promise<AddedRule> => {
      fake.rulesAdded.push(spec);
      return { description: spec.words.join(' '), remove: async () => void fake.rulesRemoved.push(spec) };
    },
    openPcap: async () => {
      const errorHandlers: Array<(error: Error) => void> = [];
      const recorder: FakeRecorder = {
        records: [],
        closed: false,
        dropped: 0,
        lost: 0,
        write(payload, originalLength, timestamp) {
          this.records.push({ payload: Buffer.from(payload), originalLength, timestamp });
        },
        appendRecords() {},
        onError: (handler) => void errorHandlers.push(handler),
        fail: (error) => errorHandlers.forEach((handler) => handler(error)),
        async close() {
          this.closed = true;
        },
      };
      fake.recorders.push(recorder);
      return recorder;
    },
    printLine: (line) => {
      if (!stdoutFailed) fake.lines.push(line);
    },
    onStdoutError: (handler) => void stdoutHandlers.push(handler),
    stdoutDropped: () => fake.stdoutDropped,
    finishOutput: async () => 0,
    printError: (line) => {
      fake.errors.push(line);
      fake.stderr.push(`${line}\n`);
    },
    writeStatus: (text) => {
      fake.status.push(text);
      fake.stderr.push(text);
    },
    stderrIsTerminal: false,
    stdoutIsTerminal: false,
    onTerminationSignal: (handler) => {
      signalHandler = handler;
      return () => (signalHandler = undefined);
    },
    now: () => (clock += 250),
    ...overrides,
  };
  const result: FakeEnvironment = {
    ...fake,
    environment,
    signal: () => signalHandler?.('SIGTERM'),
    failStdout: (error) => {
      stdoutFailed = true;
      for (const handler of stdoutHandlers) handler(error);
    },
  };
  // stdoutDropped() reads the field the test sets on the returned object.
  environment.stdoutDropped = overrides.stdoutDropped ?? (() => result.stdoutDropped);
  return result;
}

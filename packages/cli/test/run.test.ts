import { type NativeBinding, type NativeQueue, type Queue, type QueueOptions, openQueue } from '@nfq/nfqueue';
import { NF_ACCEPT, buildPacketMessage, iterateMessages } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { type CliEnvironment, runCli } from '../src/index.js';

/** A native queue with no kernel behind it: records verdicts, lets the test push packets. */
class FakeNative implements NativeQueue {
  readonly queueNum: number;
  readonly portId = 1;
  readonly verdicts: Array<[id: number, verdict: number]> = [];
  closed = false;
  #onBatch?: (err: Error | null, batch: Buffer) => void;
  constructor(options: { queue: number }) {
    this.queueNum = options.queue;
  }
  start(onBatch: (err: Error | null, batch: Buffer) => void): void {
    this.#onBatch = onBatch;
  }
  push(...ids: number[]): void {
    const messages = ids.map((id) =>
      buildPacketMessage({ queue: this.queueNum, id, hwProtocol: 0x0800, hook: 3, payload: new Uint8Array(28) }),
    );
    this.#onBatch!(null, Buffer.concat(messages));
  }
  sendVerdicts(messages: Uint8Array): void {
    for (const message of iterateMessages(messages)) {
      const view = new DataView(message.bytes.buffer, message.bytes.byteOffset);
      this.verdicts.push([view.getUint32(28), view.getUint32(24)]); // NFQA_VERDICT_HDR: verdict, id
    }
  }
  stats() {
    return { overruns: 0, batches: 0, messages: 0, truncated: 0, verdictsSent: this.verdicts.length, verdictSends: 0 };
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

function fakeEnvironment(): {
  environment: CliEnvironment;
  lines: string[];
  errors: string[];
  natives: FakeNative[];
  openedWith: QueueOptions[];
  signal: () => void;
} {
  const lines: string[] = [];
  const errors: string[] = [];
  const natives: FakeNative[] = [];
  const openedWith: QueueOptions[] = [];
  let signalHandler: (() => void) | undefined;
  const binding: NativeBinding = {
    NativeQueue: {
      open: (options) => {
        const native = new FakeNative(options);
        natives.push(native);
        return native;
      },
    },
    readProcNet: () => '',
  };
  const environment: CliEnvironment = {
    openQueue: (options): Promise<Queue> => {
      openedWith.push(options);
      return openQueue(options, { binding });
    },
    printLine: (line) => lines.push(line),
    printError: (line) => errors.push(line),
    onTerminationSignal: (handler) => {
      signalHandler = handler;
      return () => (signalHandler = undefined);
    },
  };
  return { environment, lines, errors, natives, openedWith, signal: () => signalHandler?.() };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('runCli', () => {
  it('refuses a bad command line with status 2 and one stderr line, opening nothing', async () => {
    const fake = fakeEnvironment();
    expect(await runCli(['--count', 'many'], fake.environment)).toBe(2);
    expect(fake.errors).toHaveLength(1);
    expect(fake.errors[0]).toMatch(/^nf-queue: --count must be a whole number/);
    expect(fake.openedWith).toEqual([]);
  });

  it('binds with copy mode packet and GSO, prints and accepts, and exits 0 after --count verdicts', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--count', '2', '--netns', 'lab', '4'], fake.environment);
    await settle();
    expect(fake.openedWith).toEqual([{ queue: 4, copyMode: 'packet', gso: true, netns: 'lab' }]);
    fake.natives[0]!.push(1, 2, 3);
    expect(await exit).toBe(0);
    expect(fake.lines).toEqual([
      'packet received (id=1 hw=0x0800 hook=3, payload len 28)',
      'packet received (id=2 hw=0x0800 hook=3, payload len 28)',
    ]);
    // Packet 3 came after the count was reached: it still gets accepted, by the close.
    expect(fake.natives[0]!.verdicts).toEqual([
      [1, NF_ACCEPT],
      [2, NF_ACCEPT],
      [3, NF_ACCEPT],
    ]);
    expect(fake.natives[0]!.closed).toBe(true);
  });

  it('closes gracefully on a termination signal', async () => {
    const fake = fakeEnvironment();
    const exit = runCli(['--quiet'], fake.environment);
    await settle();
    fake.natives[0]!.push(5);
    expect(fake.lines).toEqual([]);
    fake.signal();
    expect(await exit).toBe(0);
    expect(fake.natives[0]!.verdicts).toEqual([[5, NF_ACCEPT]]);
    expect(fake.natives[0]!.closed).toBe(true);
  });

  it('reports a failed bind on one line with status 1', async () => {
    const fake = fakeEnvironment();
    fake.environment.openQueue = () =>
      Promise.reject(Object.assign(new Error('queue 0 is already bound'), { code: 'EPERM', kind: 'AlreadyBound' }));
    expect(await runCli([], fake.environment)).toBe(1);
    expect(fake.errors).toEqual(['nf-queue: cannot bind queue 0: queue 0 is already bound [EPERM/AlreadyBound]']);
  });
});

import { NF_ACCEPT } from '@nfq/netlink';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/index.js';
import { fakeEnvironment } from './fake-environment.js';

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
    expect(fake.openedWith).toEqual([{ queue: 4, copyMode: 'packet', gso: true, drainTimeout: 0, netns: 'lab' }]);
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
    expect(fake.errors).toEqual(['nf-queue: queue 0 is already bound (EPERM)']);
  });
});

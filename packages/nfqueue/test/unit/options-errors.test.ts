/** Options of queueStats, openQueueRange and readerCpus: each mistake is an InvalidOptionError naming the option and the function. */
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, openQueue, openQueueRange, queueStats } from '../../src/index.js';
import { createFakeBinding } from '../fake-native.js';

const invalid = (call: () => unknown, option: string, message: RegExp): void => {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidOptionError);
  expect(thrown).toMatchObject({ code: 'ERR_INVALID_OPTION', option });
  expect((thrown as Error).message).toMatch(message);
};

describe('queueStats options', () => {
  it('refuses an unknown name (a typo must not silently read the host instead), a non-object and a bad netns', () => {
    const { binding } = createFakeBinding();
    invalid(() => queueStats({ netNs: 'lab' } as { netns?: string }, { binding }), 'netNs', /is not an option of queueStats \(known: netns, owners\)/);
    invalid(() => queueStats(5 as unknown as { netns?: string }, { binding }), 'options', /must be an object/);
    invalid(() => queueStats({ netns: '' }, { binding }), 'netns', /namespace name/);
    expect(queueStats({}, { binding })).toEqual([]);
  });
});

describe('openQueueRange options', () => {
  it('names openQueueRange, not openQueue, for an unknown option', async () => {
    const error = await openQueueRange({ from: 0, to: 1, handler: '/nonexistent.mjs', bogus: 1 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/^bogus: is not an option of openQueueRange/);
  });
});

describe('readerCpus', () => {
  it('refuses a CPU this machine does not have, before anything is opened', async () => {
    const { binding, opened } = createFakeBinding();
    const count = cpus().length;
    const error = await openQueue({ queue: 0, readerCpus: [0, count] }, { binding }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ option: 'readerCpus' });
    expect((error as Error).message).toBe(`readerCpus: CPU ${count} does not exist: this machine has CPUs 0 to ${count - 1}`);
    expect(opened).toHaveLength(0);
  });
});

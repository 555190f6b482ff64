import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, openQueue, validateQueueOptions } from '../../src/index.js';
import { effectiveReaderThread, eventLoopReaderProblem, runtimeWithoutUvPoll } from '../../src/runtime.js';
import { createFakeBinding } from '../fake-native.js';

const versions = process.versions as Record<string, string | undefined>;

/** Makes this process look like Bun 1.4.5 until the test ends (process.versions is extensible). */
function pretendBun(): void {
  versions.bun = '1.4.5';
}

afterEach(() => {
  delete versions.bun;
});

describe('which receiver the runtime can drive', () => {
  it('tells Bun and Deno from Node.js', () => {
    expect(runtimeWithoutUvPoll({ node: '20.20.2' }, {})).toBeUndefined();
    expect(runtimeWithoutUvPoll({ node: '24.3.0', bun: '1.4.5' }, {})).toEqual({ name: 'Bun', version: '1.4.5' });
    expect(runtimeWithoutUvPoll({ node: '24.2.0', deno: '2.9.6' }, {})).toEqual({ name: 'Deno', version: '2.9.6' });
    expect(runtimeWithoutUvPoll({ node: '24.2.0' }, { Deno: { version: { deno: '2.9.6' } } })).toEqual({ name: 'Deno', version: '2.9.6' });
    expect(runtimeWithoutUvPoll()).toBeUndefined(); // this suite runs on Node.js
  });

  it('defaults to a reader thread on Bun and Deno, keeps the caller’s choice, and leaves Node.js alone', () => {
    const bun = { name: 'Bun', version: '1.4.5' };
    expect(effectiveReaderThread(undefined, bun)).toBe(true);
    expect(effectiveReaderThread(true, bun)).toBe(true);
    expect(effectiveReaderThread(undefined, undefined)).toBeUndefined();
    expect(effectiveReaderThread(false, undefined)).toBe(false);
    expect(eventLoopReaderProblem(undefined)).toBeUndefined();
    expect(eventLoopReaderProblem(bun)).toMatch(/^false is not supported on Bun 1\.4\.5/);
  });

  it('on Node.js: openQueue passes readerThread through as given, and accepts false', async () => {
    const { binding, opened } = createFakeBinding();
    const queue = await openQueue({ queue: 1 }, { binding });
    const explicit = await openQueue({ queue: 2, readerThread: false }, { binding });
    expect(opened.map((native) => native.options.readerThread)).toEqual([undefined, false]);
    await Promise.all([queue.close(), explicit.close()]);
  });

  it('on Bun: openQueue receives on a reader thread unless told otherwise, and refuses readerThread: false before binding', async () => {
    pretendBun();
    const { binding, opened } = createFakeBinding();
    const queue = await openQueue({ queue: 1 }, { binding });
    expect(opened.map((native) => native.options.readerThread)).toEqual([true]);
    await queue.close();
    const refused = openQueue({ queue: 2, readerThread: false }, { binding });
    await expect(refused).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(refused).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      option: 'readerThread',
      message:
        'readerThread: false is not supported on Bun 1.4.5: its N-API has no working uv_poll to receive on the JavaScript thread; ' +
        'leave readerThread unset (Bun receives on a reader thread) or set it to true',
    });
    expect(opened).toHaveLength(1);
    expect(() => validateQueueOptions({ queue: 3, readerThread: 'yes' })).toThrow('readerThread: must be true or false');
  });
});

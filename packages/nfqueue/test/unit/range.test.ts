/**
 * openQueueRange without a kernel: adding up counters, and every option refused before a worker
 * starts (the kernel tests in ../kernel-range.test.ts run the workers).
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { type QueueRangeOptions, mergeStats, openQueueRange } from '../../src/range.js';
import { OPTION_LIMITS as QUEUE_OPTION_LIMITS } from '../../src/option-limits.js';

const handler = new URL('../fixtures/range-accept-mark.mjs', import.meta.url);

describe('mergeStats', () => {
  it('adds numbers key by key, and nested objects the same way', () => {
    const merged = mergeStats([
      { received: 2, held: 1, verdicts: { accept: 2, drop: 0 }, native: { messages: 3 } },
      { received: 5, held: 0, verdicts: { accept: 4, drop: 1 }, native: { messages: 6 } },
      { received: 1, held: 2, verdicts: { accept: 0, drop: 1 }, native: { messages: 1 } },
    ]);
    expect(merged).toEqual({ received: 8, held: 3, verdicts: { accept: 6, drop: 2 }, native: { messages: 10 } });
  });

  it('adds a key present in only some objects over those, and ignores values that are not counters', () => {
    const merged = mergeStats<Record<string, unknown>>([
      { received: 1, name: 'q10', list: [1, 2], nothing: null },
      { received: 2, restarts: 3, nested: { only: 4 } },
    ]);
    expect(merged).toEqual({ received: 3, restarts: 3, nested: { only: 4 } });
  });

  it('returns a copy: the inputs are left as they were', () => {
    const first = { received: 1, verdicts: { accept: 1 } };
    const second = { received: 2, verdicts: { accept: 2 } };
    const merged = mergeStats([first, second]);
    merged.verdicts.accept = 99;
    expect(first).toEqual({ received: 1, verdicts: { accept: 1 } });
    expect(second).toEqual({ received: 2, verdicts: { accept: 2 } });
  });

  it('gives one object back unchanged in value, and an empty object for none', () => {
    expect(mergeStats([{ received: 7, verdicts: { accept: 7 } }])).toEqual({ received: 7, verdicts: { accept: 7 } });
    expect(mergeStats([])).toEqual({});
  });
});

describe('openQueueRange: options refused before any worker starts', () => {
  /** Opens 10:11 with `options` replacing the valid ones, wrong types included (as from JavaScript). */
  const open = (options: Record<string, unknown>) => openQueueRange({ from: 10, to: 11, handler, ...options } as unknown as QueueRangeOptions);

  const { min, max, what } = QUEUE_OPTION_LIMITS.queue;
  const QUEUE_RANGE = `${what} from ${min} to ${max}`;
  it.each([
    ['from', 'from after to', { from: 12, to: 11 }, 'from: the range starts after it ends (from 12 > to 11)'],
    ['from', 'a negative from', { from: -1 }, `from: must be ${QUEUE_RANGE}, got -1`],
    ['to', 'to past the last queue number', { to: QUEUE_OPTION_LIMITS.queue.max + 1 }, `to: must be ${QUEUE_RANGE}, got ${QUEUE_OPTION_LIMITS.queue.max + 1}`],
    ['from', 'a fractional from', { from: 1.5 }, `from: must be ${QUEUE_RANGE}, got 1.5`],
    ['to', 'NaN as to', { to: Number.NaN }, `to: must be ${QUEUE_RANGE}, got NaN`],
    ['from', 'a string as from', { from: '10' }, `from: must be ${QUEUE_RANGE}, got '10'`],
    ['to', 'a missing to', { to: undefined }, `to: must be ${QUEUE_RANGE}, got undefined`],
    ['maxRestarts', 'a negative maxRestarts', { maxRestarts: -1 }, 'maxRestarts: must be an integer from 0 up, got -1'],
    ['maxRestarts', 'a fractional maxRestarts', { maxRestarts: 0.5 }, 'maxRestarts: must be an integer from 0 up, got 0.5'],
    ['onPacket', 'a function among the queue options', { onPacket: () => undefined }, 'onPacket: cannot be passed to a worker thread (a function); only plain values can'],
    ['queue', 'a queue option', { queue: 3 }, 'queue: is not an option of openQueueRange: give the queues as from and to'],
    ['handlerData', 'handlerData that cannot be cloned', { handlerData: { log: () => undefined } }, 'handlerData: cannot be passed to worker threads: '],
    ['handler', 'a handler that is neither a path nor a URL', { handler: 42 }, 'handler: must be a module path or URL whose default export handles packets, got number'],
    ['handler', 'an empty handler path', { handler: '' }, 'handler: must be a module path or URL'],
    ['signal', 'a signal that is not an AbortSignal', { signal: { aborted: false } }, 'signal: must be an AbortSignal'],
    ['restart', 'a restart that is not a boolean', { restart: 'yes' }, 'restart: must be true or false, got yes'],
    ['__proto__', 'an own __proto__ key (from JSON.parse)', JSON.parse('{"__proto__": {"x": 1}}'), "__proto__: is not an option of openQueue"],
    ['hasOwnProperty', 'a name of Object.prototype', { hasOwnProperty: 1 }, 'hasOwnProperty: is not an option of openQueue'],
  ])('refuses %s with InvalidOptionError (%s)', async (option, _what, options, message) => {
    const opening = open(options as Partial<QueueRangeOptions>);
    await expect(opening).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(opening).rejects.toMatchObject({ option, code: 'ERR_INVALID_OPTION' });
    await expect(opening).rejects.toThrow(message);
  });

  it('checks the queue options as openQueue does', async () => {
    const opening = open({ copyMode: 'everything' });
    await expect(opening).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(opening).rejects.toMatchObject({ option: 'copyMode', code: 'ERR_INVALID_OPTION' });
  });

  it('rejects options that are not an object', async () => {
    await expect(openQueueRange(null as unknown as QueueRangeOptions)).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'options' });
  });
});

describe('openQueueRange from the TypeScript sources', () => {
  it('rejects, saying that workers need the built package (there is no range-worker.js beside range.ts)', async () => {
    // Valid options: validation passes, the worker starts, and cannot find its file in src/.
    const opening = openQueueRange({ from: 10, to: 11, handler });
    await expect(opening).rejects.toMatchObject({ name: 'QueueRangeError', kind: 'Open', code: 'ERR_MODULE_NOT_FOUND' });
    await expect(opening).rejects.toThrow(/src\/range-worker\.js does not exist; workers run the built JavaScript/);
  });
});

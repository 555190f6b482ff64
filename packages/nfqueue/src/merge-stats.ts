/** {@link mergeStats}: the counters of several queues added up into one object of the same shape. */

/**
 * Adds up several queues' counters: numbers are added key by key, nested objects (such as
 * `verdicts`) are merged the same way, and a key present in only some objects is added over those.
 * Other values are ignored.
 *
 * ```ts
 * mergeStats([{ received: 2, verdicts: { accept: 2 } }, { received: 3, verdicts: { accept: 1 } }]);
 * // { received: 5, verdicts: { accept: 3 } }
 * ```
 */
export function mergeStats<T extends object>(all: readonly [T, ...T[]]): T;
/** Adds up several queues' counters; an empty list gives an empty object. */
export function mergeStats<T extends object>(all: readonly T[]): Partial<T>;
export function mergeStats(all: readonly object[]): object {
  const total: Record<string, unknown> = {};
  for (const stats of all) {
    for (const [key, value] of Object.entries(stats)) {
      if (typeof value === 'number') {
        const sum = total[key];
        total[key] = (typeof sum === 'number' ? sum : 0) + value;
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const sum = total[key];
        total[key] = mergeStats(sum !== null && typeof sum === 'object' ? [sum, value] : [value]);
      }
    }
  }
  return total;
}

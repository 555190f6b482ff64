/**
 * Errors a queue reports while nobody listens on 'error': they become process warnings (shown on
 * stderr by default) instead of EventEmitter's uncaught exception, which would end the process
 * and leave its packets to the kernel. At most one warning a second per error code; the next one
 * says how many were left out. @internal
 */

/** The shortest time between two warnings of one code, in ms. */
export const WARNING_INTERVAL_MS = 1000;

const byCode = new Map<string, { last: number; suppressed: number; timer: NodeJS.Timeout | undefined }>();

/** Emits `error` as a process warning, rate-limited per code. */
export function reportUnheard(error: Error, queueNum: number): void {
  const code = (error as { code?: unknown }).code;
  const key = typeof code === 'string' ? code : error.name;
  const now = performance.now();
  let state = byCode.get(key);
  if (state === undefined) {
    state = { last: Number.NEGATIVE_INFINITY, suppressed: 0, timer: undefined };
    byCode.set(key, state);
  }
  if (now - state.last < WARNING_INTERVAL_MS) {
    state.suppressed++;
    // Say how many were left out even when no further error of this code comes.
    const current = state;
    current.timer ??= setTimeout(() => {
      current.timer = undefined;
      if (current.suppressed === 0) return;
      const count = current.suppressed;
      current.suppressed = 0;
      current.last = performance.now();
      process.emitWarning(`${count} more ${key} error${count === 1 ? '' : 's'} of an NFQUEUE queue left out (at most one warning a second per code)`, {
        type: 'NfqueueWarning',
        code: key,
      });
    }, Math.max(0, state.last + WARNING_INTERVAL_MS - now)).unref();
    return;
  }
  const suppressed = state.suppressed;
  state.suppressed = 0;
  state.last = now;
  const left = suppressed > 0 ? ` (${suppressed} more like it left out since the last warning)` : '';
  process.emitWarning(
    `queue ${queueNum}: ${error.name}: ${error.message}${left}; the queue keeps serving. Listen on 'error' to handle these yourself`,
    { type: 'NfqueueWarning', code: key },
  );
}

/**
 * Which receiver the running JavaScript runtime can drive. Node.js runs both: the JavaScript
 * thread receiving through libuv's `uv_poll` (the default) or a reader thread. Bun and Deno load
 * the same N-API binary but lack a working `uv_poll`: Bun aborts the process at `uv_poll_init`,
 * Deno hands over the first batch and never another. There {@link openQueue} receives on a reader
 * thread, and `readerThread: false` is refused before anything is bound.
 */

/** A runtime other than Node.js that cannot drive the event-loop receiver, or undefined on Node.js. */
export interface RuntimeWithoutUvPoll {
  /** 'Bun' or 'Deno'. */
  readonly name: string;
  /** Its version, e.g. '1.4.5'. */
  readonly version: string;
}

/**
 * Bun (`process.versions.bun`) or Deno (`process.versions.deno`, `globalThis.Deno`), which need
 * the reader thread; undefined on Node.js. The arguments exist for tests.
 */
export function runtimeWithoutUvPoll(
  versions: Readonly<Record<string, string | undefined>> = process.versions,
  global: { Deno?: { version?: { deno?: string } } } = globalThis as { Deno?: { version?: { deno?: string } } },
): RuntimeWithoutUvPoll | undefined {
  if (typeof versions.bun === 'string') return { name: 'Bun', version: versions.bun };
  if (typeof versions.deno === 'string') return { name: 'Deno', version: versions.deno };
  if (global.Deno !== undefined) return { name: 'Deno', version: global.Deno.version?.deno ?? 'unknown' };
  return undefined;
}

/** Why `readerThread: false` cannot work here, or undefined where it can (Node.js). */
export function eventLoopReaderProblem(runtime = runtimeWithoutUvPoll()): string | undefined {
  if (runtime === undefined) return undefined;
  return (
    `false is not supported on ${runtime.name} ${runtime.version}: its N-API has no working uv_poll to receive on the JavaScript thread; ` +
    `leave readerThread unset (${runtime.name} receives on a reader thread) or set it to true`
  );
}

/** The `readerThread` value to open with: the caller's, else true where only the reader thread works (Bun, Deno). */
export function effectiveReaderThread(readerThread: boolean | undefined, runtime = runtimeWithoutUvPoll()): boolean | undefined {
  return readerThread ?? (runtime === undefined ? undefined : true);
}

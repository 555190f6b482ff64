/** The live status line `nf-queue` draws on a terminal's standard error. */
import type { CliEnvironment } from './environment.js';
import { formatStatus } from './format.js';
import type { Served } from './session.js';

/** How often the live status line is refreshed, in milliseconds. */
export const STATUS_INTERVAL_MS = 500;
/** Erases the terminal line the cursor is on: carriage return, then ECMA-48 "erase in line" (whole line). */
export const CLEAR_LINE = '\r\x1b[2K';

/** The live status line on a terminal: redrawn every interval, erased before anything else is printed. */
export class StatusLine {
  #shown = false;
  #timer: NodeJS.Timeout | undefined;
  #lastReceived = 0;
  #lastAt: number;

  /** Starts drawing `served`'s counters on `environment`'s standard error every interval. */
  constructor(
    private readonly environment: CliEnvironment,
    private readonly served: Served,
  ) {
    this.#lastAt = environment.now();
    this.#timer = setInterval(() => void this.#draw(), environment.statusIntervalMs ?? STATUS_INTERVAL_MS);
    this.#timer.unref();
  }

  async #draw(): Promise<void> {
    const counters = await this.served.counters();
    if (this.#timer === undefined) return; // stopped meanwhile
    const now = this.environment.now();
    const seconds = (now - this.#lastAt) / 1000;
    const rate = seconds > 0 ? (counters.received - this.#lastReceived) / seconds : 0;
    this.#lastAt = now;
    this.#lastReceived = counters.received;
    const line = formatStatus({
      received: counters.received,
      rate,
      accepted: counters.verdicts.accept,
      dropped: counters.verdicts.drop,
      overruns: counters.overruns,
      kernelDrops: this.served.kernelDrops(),
    });
    this.environment.writeStatus(`${CLEAR_LINE}${line}`);
    this.#shown = true;
  }

  /** Erases the line, if shown (before a packet line, and before the summary). */
  clear(): void {
    if (!this.#shown) return;
    this.environment.writeStatus(CLEAR_LINE);
    this.#shown = false;
  }

  /** Stops refreshing and erases the line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }
}

/** The live status line `nf-queue` draws on a terminal's standard error. */
import type { CliEnvironment } from './environment.js';
import { formatStatus } from './format.js';
import type { Served } from './session.js';

/** How often the live status line is refreshed, in milliseconds. */
export const STATUS_INTERVAL_MS = 500;
/** Erases the terminal line the cursor is on: carriage return, then ECMA-48 "erase in line" (whole line). */
export const CLEAR_LINE = '\r\x1b[2K';

/**
 * The live status line on a terminal: its counters refreshed every interval. When packet lines go
 * to the same terminal (stdout a terminal too), it is erased before the first line of a batch and
 * drawn again below the batch's last line, so that it stays visible and current while packets
 * flow; when they go elsewhere (stdout piped), it is left in place.
 */
export class StatusLine {
  #shown = false;
  #timer: NodeJS.Timeout | undefined;
  #redraw: NodeJS.Immediate | undefined;
  /** The last line drawn, with its {@link CLEAR_LINE}; redrawn as is below a batch of packet lines. */
  #text = '';
  #lastReceived = 0;
  #lastAt: number;
  readonly #redrawAfterLines = (): void => {
    this.#redraw = undefined;
    if (this.#timer === undefined || this.#text === '') return;
    this.environment.writeStatus(this.#text);
    this.#shown = true;
  };

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
    this.#text = `${CLEAR_LINE}${line}`;
    if (this.#redraw !== undefined) return; // drawn below the lines being printed
    this.environment.writeStatus(this.#text);
    this.#shown = true;
  }

  /**
   * Called before packet lines go to standard output: when that is the terminal too, erases the
   * line (once per batch) and draws it again once the batch is printed (on the next turn of the event loop).
   */
  beforePacketLines(): void {
    if (!this.environment.stdoutIsTerminal) return;
    this.clear();
    if (this.#redraw === undefined) this.#redraw = setImmediate(this.#redrawAfterLines);
  }

  /** Erases the line, if shown (before the summary). */
  clear(): void {
    if (!this.#shown) return;
    this.environment.writeStatus(CLEAR_LINE);
    this.#shown = false;
  }

  /** Stops refreshing and erases the line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#redraw !== undefined) clearImmediate(this.#redraw);
    this.#redraw = undefined;
    this.clear();
  }
}

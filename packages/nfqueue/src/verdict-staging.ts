/**
 * The verdicts a queue collects between two sends. Plain verdicts (no payload, no connmark) are
 * staged in typed arrays and encoded only at the flush: when they all share one verdict and mark,
 * were given in id order and no lower id still waits, they leave as one VERDICT_BATCH message;
 * otherwise (or before a message that must follow them in order) as one VERDICT message each.
 */
import { VerdictWriter } from '@nfq/netlink';
import type { VerdictChanges } from './packet.js';
import { RESENT_SEQ, VerdictRecords } from './verdict-records.js';

/** Verdict messages being collected for one queue's next send, with the records of their sequence numbers. */
export class VerdictStaging {
  /** The verdict messages encoded for the next send. */
  readonly writer = new VerdictWriter();
  /** Sequence numbers handed out, and what each recent message and send covered. */
  readonly records = new VerdictRecords();
  readonly #queueNum: number;
  /** Staged plain verdicts, in order: ids, verdicts, marks (-1 for none). */
  #ids = new Uint32Array(256);
  #verdicts = new Uint32Array(256);
  #marks = new Float64Array(256);
  #count = 0;
  /**
   * What the staged verdicts have in common: the highest id, the one verdict and mark they all
   * share (`uniform`), and whether they were given in id order (`ascending`: only then may they
   * leave as one VERDICT_BATCH, which the kernel applies in id order).
   */
  readonly #summary = { maxId: 0, verdict: 0, mark: -1, uniform: true, ascending: true };
  /** The options of the plain verdicts encoded here, reused (the writer reads them at once). */
  readonly #plainVerdict: { queue: number; id: number; verdict: number; mark: number | undefined; seq: number };

  /** Staging for the verdicts of queue `queueNum`. */
  constructor(queueNum: number) {
    this.#queueNum = queueNum;
    this.#plainVerdict = { queue: queueNum, id: 0, verdict: 0, mark: undefined, seq: 0 };
  }

  /** Adds a plain verdict (mark -1: none) to those collected for the flush. */
  stage(id: number, verdict: number, mark: number): void {
    const summary = this.#summary;
    const count = this.#count;
    if (count === 0) {
      summary.verdict = verdict;
      summary.mark = mark;
      summary.uniform = true;
      summary.ascending = true;
      summary.maxId = id;
    } else {
      if (verdict !== summary.verdict || mark !== summary.mark) summary.uniform = false;
      if (((id - summary.maxId) | 0) > 0) summary.maxId = id;
      else summary.ascending = false; // given out of id order: a VERDICT_BATCH would reorder them
    }
    if (count === this.#ids.length) this.#grow();
    this.#ids[count] = id;
    this.#verdicts[count] = verdict;
    this.#marks[count] = mark;
    this.#count = count + 1;
  }

  #grow(): void {
    const size = this.#ids.length * 2;
    const ids = new Uint32Array(size);
    const verdicts = new Uint32Array(size);
    const marks = new Float64Array(size);
    ids.set(this.#ids);
    verdicts.set(this.#verdicts);
    marks.set(this.#marks);
    this.#ids = ids;
    this.#verdicts = verdicts;
    this.#marks = marks;
  }

  /**
   * The highest staged id when the staged verdicts may leave as one VERDICT_BATCH (more than one,
   * one verdict and mark, in id order, nothing encoded before them), else -1. The caller still
   * checks that no packet with a lower id waits.
   */
  coalescibleUpTo(): number {
    const summary = this.#summary;
    return this.#count > 1 && summary.uniform && summary.ascending && this.writer.byteLength === 0 ? summary.maxId : -1;
  }

  /** Encodes the staged verdicts as one VERDICT_BATCH message (see {@link coalescibleUpTo}). */
  encodeAsBatch(): void {
    const summary = this.#summary;
    const options = this.#plainVerdict;
    options.id = summary.maxId;
    options.verdict = summary.verdict;
    options.mark = summary.mark < 0 ? undefined : summary.mark;
    options.seq = this.records.batchSeq(this.#ids, this.#count);
    this.writer.appendVerdictBatch(options);
    this.#count = 0;
  }

  /** Encodes the staged verdicts, in order, one VERDICT message each. */
  encodeStaged(): void {
    const ids = this.#ids;
    const verdicts = this.#verdicts;
    const marks = this.#marks;
    const count = this.#count;
    for (let i = 0; i < count; i++) {
      const mark = marks[i]!;
      const id = ids[i]!;
      const options = this.#plainVerdict;
      options.id = id;
      options.verdict = verdicts[i]!;
      options.mark = mark < 0 ? undefined : mark;
      options.seq = this.records.verdictSeq(id);
      this.writer.appendVerdict(options);
    }
    this.#count = 0;
  }

  /** Encodes a verdict that changes the packet (payload or connmark), after the staged ones. */
  appendChanged(id: number, verdict: number, changes: VerdictChanges): void {
    this.encodeStaged();
    const { mark, payload, connmark, connlabels, connlabelsMask } = changes;
    this.writer.appendVerdict({ queue: this.#queueNum, id, verdict, mark, payload, connmark, connlabels, connlabelsMask, seq: this.records.verdictSeq(id) });
  }

  /** Encodes a VERDICT_BATCH up to `id` that covers the packets `covered`; call {@link encodeStaged} first. */
  appendBatch(id: number, verdict: number, mark: number | undefined, covered: readonly number[]): void {
    this.writer.appendVerdictBatch({ queue: this.#queueNum, id, verdict, mark, seq: this.records.batchSeq(covered, covered.length) });
  }

  /** Encodes the default verdict for packet `id` sent again after the kernel refused its verdict (marked with RESENT_SEQ). */
  appendResent(id: number, verdict: number): void {
    this.writer.appendVerdict({ queue: this.#queueNum, id, verdict, seq: (RESENT_SEQ | this.records.verdictSeq(id)) >>> 0 });
  }
}

/**
 * Sequence numbers of the verdict messages a queue sends, and what each recent one covered, so
 * that a refusal by the kernel (an error echoing the refused message's sequence number) can be
 * traced back to its packets and its send.
 */

/** Set in the sequence number of a default verdict sent because the kernel refused a verdict: a refusal of it is not resent. */
export const RESENT_SEQ = 0x80000000;
/** Highest sequence number (then 1 again). */
export const MAX_SEQ = 0x7fffffff;
/** What {@link VerdictRecords.takeRefusedSend} returns for a send no longer remembered. */
export const SEND_UNKNOWN = -1;
/** What {@link VerdictRecords.takeRefusedSend} returns for a send whose refusal was already counted. */
export const SEND_ALREADY_REFUSED = 0;
/** Most packet ids remembered for the VERDICT_BATCH messages in flight (a power of two). */
const MAX_RECORDED_IDS = 65536;
/** VERDICT_BATCH messages whose packet ids are remembered (the most recent ones). */
const BATCH_RECORDS = 1024;
/** Recent sends whose sequence numbers are remembered, to account for a send the kernel refuses whole. */
const SEND_RECORDS = 256;
/** Recent VERDICT messages whose packet id is remembered, by sequence number (a power of two). */
const SEQ_RECORDS = 16384;

/** Hands out sequence numbers and remembers, in fixed rings, the packets and sends they stand for. */
export class VerdictRecords {
  /** Sequence number of the last verdict message written (1..2^31-1; default verdicts resent after a refusal have RESENT_SEQ set). */
  #seq = 0;
  /** The packet ids each VERDICT_BATCH message covered, by its sequence number, to resend them when the kernel refuses it (the most recent ones). */
  readonly #recordedIds = new Uint32Array(MAX_RECORDED_IDS);
  /** Ids written to #recordedIds since the queue opened (where the next one goes, mod its length). */
  #recordedIdsWritten = 0;
  /** Per record (a ring of BATCH_RECORDS): its message's seq (0: none), where its ids start in #recordedIds (counted as #recordedIdsWritten), how many. */
  readonly #recordSeq = new Int32Array(BATCH_RECORDS);
  readonly #recordStart = new Float64Array(BATCH_RECORDS);
  readonly #recordCount = new Int32Array(BATCH_RECORDS);
  #nextRecord = 0;
  /** The packet id of each recent VERDICT message at `seq % SEQ_RECORDS`, and that message's seq (to tell a stale slot). */
  readonly #seqPacketIds = new Uint32Array(SEQ_RECORDS);
  readonly #seqOfSlot = new Int32Array(SEQ_RECORDS);
  /** The first and last sequence number of each recent send (a ring of pairs; 0 0: none), and which were refused whole. */
  readonly #sendSeqs = new Int32Array(SEND_RECORDS * 2);
  readonly #sendRefused = new Uint8Array(SEND_RECORDS);
  #nextSendRecord = 0;
  /** Sequence number of the last message of the last send. */
  #sentSeq = 0;

  /** The next sequence number for a verdict message: 1..2^31-1, wrapping (RESENT_SEQ stays clear). */
  #nextSeq(): number {
    this.#seq = this.#seq >= MAX_SEQ ? 1 : this.#seq + 1;
    return this.#seq;
  }

  /** Takes a sequence number for a VERDICT message about packet `id`, remembering the id. */
  verdictSeq(id: number): number {
    const seq = this.#nextSeq();
    const slot = seq & (SEQ_RECORDS - 1);
    this.#seqPacketIds[slot] = id;
    this.#seqOfSlot[slot] = seq;
    return seq;
  }

  /** Takes a sequence number for a VERDICT_BATCH message and remembers the packets it covers (`ids[0, count)`). */
  batchSeq(ids: ArrayLike<number>, count: number): number {
    const seq = this.#nextSeq();
    const slot = this.#nextRecord;
    this.#nextRecord = (slot + 1) % BATCH_RECORDS;
    // Refusals come back within a few receive batches: the most recent records are enough. A
    // message covering more ids than are kept is not remembered (a refusal of it is 'unknown').
    if (count > MAX_RECORDED_IDS) {
      this.#recordSeq[slot] = 0;
      return seq;
    }
    const start = this.#recordedIdsWritten;
    const recorded = this.#recordedIds;
    for (let i = 0; i < count; i++) recorded[(start + i) & (MAX_RECORDED_IDS - 1)] = ids[i]!;
    this.#recordedIdsWritten = start + count;
    this.#recordSeq[slot] = seq;
    this.#recordStart[slot] = start;
    this.#recordCount[slot] = count;
    return seq;
  }

  /** Remembers the sequence numbers the send being made carries: every message written since the last send. */
  recordSend(): void {
    const slot = this.#nextSendRecord;
    this.#sendSeqs[slot * 2] = this.#sentSeq >= MAX_SEQ ? 1 : this.#sentSeq + 1;
    this.#sendSeqs[slot * 2 + 1] = this.#seq;
    this.#sendRefused[slot] = 0;
    this.#nextSendRecord = (slot + 1) % SEND_RECORDS;
    this.#sentSeq = this.#seq;
  }

  /** The packet ids VERDICT_BATCH message `seq` covered, once (the record is used up); undefined when no longer remembered. */
  takeBatchRecord(seq: number): number[] | undefined {
    for (let back = 1; back <= BATCH_RECORDS; back++) {
      const slot = (this.#nextRecord - back + BATCH_RECORDS) % BATCH_RECORDS;
      if (this.#recordSeq[slot] !== seq) continue;
      this.#recordSeq[slot] = 0;
      const start = this.#recordStart[slot]!;
      const count = this.#recordCount[slot]!;
      if (this.#recordedIdsWritten - start > MAX_RECORDED_IDS) return undefined; // overwritten since
      const ids: number[] = [];
      for (let i = 0; i < count; i++) ids.push(this.#recordedIds[(start + i) & (MAX_RECORDED_IDS - 1)]!);
      return ids;
    }
    return undefined;
  }

  /** Adds the packets message `seq` covered, as far as remembered, to `ids` (a VERDICT_BATCH record is used up). */
  takePacketIds(seq: number, ids: number[]): void {
    const covered = this.takeBatchRecord(seq);
    if (covered !== undefined) {
      for (const id of covered) ids.push(id);
    } else if (this.#seqOfSlot[seq & (SEQ_RECORDS - 1)] === seq) {
      ids.push(this.#seqPacketIds[seq & (SEQ_RECORDS - 1)]!);
    }
  }

  /**
   * The send that carried message `seq` was refused whole: adds the packets of every message it
   * carried to `ids` and returns how many messages it carried, once; {@link SEND_ALREADY_REFUSED}
   * when its refusal was taken before, {@link SEND_UNKNOWN} when the send is no longer remembered.
   */
  takeRefusedSend(seq: number, ids: number[]): number {
    const send = seq === 0 ? -1 : this.#sendOf(seq);
    if (send < 0) return SEND_UNKNOWN;
    if (this.#sendRefused[send] !== 0) return SEND_ALREADY_REFUSED;
    this.#sendRefused[send] = 1;
    const last = this.#sendSeqs[send * 2 + 1]!;
    let messages = 0;
    for (let s = this.#sendSeqs[send * 2]!; ; s = s >= MAX_SEQ ? 1 : s + 1) {
      messages++;
      this.takePacketIds(s, ids);
      if (s === last) break;
    }
    return messages;
  }

  /** The record of the recent send that carried sequence number `seq` (newest first), or -1. */
  #sendOf(seq: number): number {
    for (let back = 1; back <= SEND_RECORDS; back++) {
      const slot = (this.#nextSendRecord - back + SEND_RECORDS) % SEND_RECORDS;
      const first = this.#sendSeqs[slot * 2]!;
      const last = this.#sendSeqs[slot * 2 + 1]!;
      if (first === 0) return -1; // the ring is not full yet: no older send
      if (first <= last ? seq >= first && seq <= last : seq >= first || seq <= last) return slot; // or it wrapped
    }
    return -1;
  }
}

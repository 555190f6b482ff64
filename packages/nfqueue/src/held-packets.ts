/**
 * The ledger of the packets a queue received that have no verdict yet: which they are (oldest
 * first), when each arrived (for `verdictTimeout`), the one being handed to the 'packet'
 * listeners, and how many lie in each receive bank of the event-loop reader, so that a bank is
 * received into again only once none of its packets waits.
 */
import { type Packet, movePacket, packetBank, packetPinned } from './packet.js';

/** What {@link HeldPackets.release} returns for a packet that was not held. */
export const NOT_HELD = -2;
/** What {@link HeldPackets.release} returns when the release freed no bank. */
export const NO_BANK_FREED = -1;
/** Banks made before held packets are copied out to free one (each is batchSize slots of 68 KB, mostly untouched). */
const BANKS_BEFORE_RELOCATING = 4;

/** Packets waiting for their verdict, and the receive banks they lie in. */
export class HeldPackets {
  /** Packets without a verdict, by id, oldest first (Map keeps insertion order); not the {@link current} one. */
  readonly packets = new Map<number, Packet>();
  /** When each held packet arrived (ms, performance.now()), oldest first; only with verdictTimeout. */
  readonly arrivedAt = new Map<number, number>();
  /** The packet the 'packet' listeners are being called with: not in {@link packets} unless they keep it. */
  current: Packet | undefined;
  readonly #tracksArrival: boolean;
  readonly #counters: { relocated: number };
  /** Receive banks made so far by the event-loop reader, and how many held packets lie in each. */
  #banksMade = 0;
  #bankHeld = new Int32Array(0);

  /** A ledger that records arrivals when `tracksArrival` (verdictTimeout set) and counts relocations in `counters`. */
  constructor(tracksArrival: boolean, counters: { relocated: number }) {
    this.#tracksArrival = tracksArrival;
    this.#counters = counters;
  }

  /** Packets held, not counting the one being dispatched. */
  get size(): number {
    return this.packets.size;
  }

  /** Packets received that have no verdict yet, the one being dispatched included. */
  count(): number {
    return this.packets.size + (this.waitingCurrent() ? 1 : 0);
  }

  /** The packet its listeners are being called with, while it has no verdict (it is not in {@link packets}). */
  waitingCurrent(): Packet | undefined {
    const current = this.current;
    return current !== undefined && !current.hasVerdict ? current : undefined;
  }

  /** True when `packet` is held or being dispatched. */
  tracks(packet: Packet): boolean {
    return this.packets.has(packet.id) || packet === this.current;
  }

  /** Keeps `packet` among those waiting for a verdict; `now` is its arrival time, or -1 without verdictTimeout. */
  hold(packet: Packet, now: number): void {
    const id = packet.id;
    this.packets.set(id, packet);
    const bank = packet[packetBank];
    if (bank >= 0) this.#bankHeld[bank]!++;
    if (now >= 0) this.arrivedAt.set(id, now);
  }

  /**
   * Forgets `packet` (it has its verdict): {@link NOT_HELD} when it was not held (verdicted while
   * its listeners ran), the bank it freed when it was the last held packet there, else {@link NO_BANK_FREED}.
   */
  release(packet: Packet): number {
    const id = packet.id;
    if (!this.packets.delete(id)) return NOT_HELD;
    const bank = packet[packetBank];
    if (this.#tracksArrival) this.arrivedAt.delete(id);
    return bank >= 0 && --this.#bankHeld[bank]! === 0 ? bank : NO_BANK_FREED;
  }

  /** True when no packet waiting for a verdict has an id up to `id` (ids are handed out in order). */
  noneUpTo(id: number): boolean {
    const current = this.waitingCurrent();
    if (current !== undefined && ((current.id - id) | 0) <= 0) return false;
    if (this.packets.size === 0) return true;
    const oldest = this.packets.keys().next();
    return oldest.done || ((oldest.value - id) | 0) > 0;
  }

  /** Notes that the reader made bank `bank` (banks are made in order). */
  bankMade(bank: number): void {
    if (bank < this.#banksMade) return;
    const made = bank + 1;
    const held = new Int32Array(made);
    held.set(this.#bankHeld);
    this.#bankHeld = held;
    this.#banksMade = made;
  }

  /**
   * The bank the next batch goes to: a free one (lowest first: its memory is warm), a new one
   * while few are made, else one freed by copying out the held packets whose bytes no one has a
   * view of, else a new one up to `maxBanks`; -1 when every bank holds a packet that cannot move
   * (reading then waits until one frees).
   */
  nextBank(maxBanks: number): number {
    const free = this.#freeBank();
    if (free >= 0) return free;
    if (this.#banksMade < BANKS_BEFORE_RELOCATING) return this.#banksMade;
    this.#relocate();
    const freed = this.#freeBank();
    if (freed >= 0) return freed;
    return this.#banksMade < maxBanks ? this.#banksMade : -1;
  }

  #freeBank(): number {
    const held = this.#bankHeld;
    for (let bank = 0; bank < this.#banksMade; bank++) if (held[bank] === 0) return bank;
    return -1;
  }

  /** Copies the bytes of every held packet that lies in a bank and handed out no view into one new buffer. */
  #relocate(): void {
    let bytes = 0;
    for (const packet of this.packets.values()) {
      if (packet[packetBank] >= 0 && !packet[packetPinned]) bytes += (packet.messageLength + 3) & ~3;
    }
    if (bytes === 0) return;
    const target = new Uint8Array(bytes);
    let at = 0;
    for (const packet of this.packets.values()) {
      const bank = packet[packetBank];
      if (bank < 0 || packet[packetPinned]) continue;
      packet[movePacket](target, at);
      at += (packet.messageLength + 3) & ~3;
      this.#bankHeld[bank]!--;
      this.#counters.relocated++;
    }
  }
}

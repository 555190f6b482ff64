import {
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
  NF_ACCEPT,
  NF_DROP,
  NF_REPEAT,
  NF_STOP,
  type PacketTimestamp,
  type PacketView,
  type PacketVlan,
  hookName,
  queueVerdict,
} from '@nfq/netlink';
import { VerdictAlreadyGivenError } from './errors.js';

/** What a verdict may change besides letting the packet go or not. */
export interface VerdictChanges {
  /** New packet mark. */
  mark?: number;
  /** Replacement packet, from the network header on (checksums are the caller's job). */
  payload?: Uint8Array;
  /** New connection mark; needs the kernel's conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT). */
  connmark?: number;
}

/** Options of {@link Packet.queue}. */
export interface RequeueOptions {
  /** Accept the packet when nothing listens on the target queue, instead of dropping it. */
  bypass?: boolean;
}

/** Where a packet's verdict goes; implemented by the queue. @internal */
export interface VerdictSink {
  /** Appends the verdict for `packet` to the next flush. */
  appendVerdict(packet: Packet, verdict: number, changes: VerdictChanges | undefined): void;
}

/** Marks a packet as verdicted without sending anything (VERDICT_BATCH covers it). @internal */
export const markVerdictGiven: unique symbol = Symbol('markVerdictGiven');

/**
 * One packet the kernel queued, waiting for exactly one verdict: {@link accept}, {@link drop},
 * {@link repeat}, {@link queue} or {@link stop}. A second verdict throws
 * {@link VerdictAlreadyGivenError}.
 *
 * The accessors read the received bytes on demand; `payload` is a view into them, valid for as
 * long as the packet object is referenced.
 */
export class Packet {
  readonly #view: PacketView;
  readonly #sink: VerdictSink;
  #verdictGiven = false;
  #payload: Buffer | undefined;

  /** Wraps a packet view; packets are made by the queue, not by users. @internal */
  constructor(view: PacketView, sink: VerdictSink) {
    this.#view = view;
    this.#sink = sink;
  }

  /** Packet id (unique among the queue's waiting packets). */
  get id(): number {
    return this.#view.id;
  }

  /** Queue the packet came from. */
  get queueNum(): number {
    return this.#view.queue;
  }

  /** Protocol family, e.g. 2 for IPv4, 10 for IPv6. */
  get family(): number {
    return this.#view.family;
  }

  /** Netfilter hook number, e.g. 3 for OUTPUT. */
  get hook(): number {
    return this.#view.hook;
  }

  /** Netfilter hook name as iptables spells the chain, e.g. 'OUTPUT'. */
  get hookName(): string | undefined {
    return hookName(this.#view.family, this.#view.hook);
  }

  /** EtherType of the packet, e.g. 0x0800 for IPv4. */
  get hwProtocol(): number {
    return this.#view.hwProtocol;
  }

  /** Packet bytes from the network header on (a view, no copy); empty in copy mode 'meta'. */
  get payload(): Buffer {
    if (this.#payload === undefined) {
      const bytes = this.#view.payload;
      this.#payload =
        bytes === undefined ? Buffer.alloc(0) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.#payload;
  }

  /** Length of the whole packet when the payload was cut to the copy range; undefined when not cut. */
  get capLen(): number | undefined {
    return this.#view.capLen;
  }

  /** True when the payload is only the first part of the packet (copy range reached). */
  get truncated(): boolean {
    const capLen = this.#view.capLen;
    return capLen !== undefined && capLen !== this.payload.length;
  }

  /** NFQA_SKB_* bits, undefined when the kernel sent none. */
  get skbInfo(): number | undefined {
    return this.#view.skbInfo;
  }

  /** True for a GSO super-packet, larger than the MTU (needs the `gso` option). */
  get gso(): boolean {
    return ((this.#view.skbInfo ?? 0) & NFQA_SKB_GSO) !== 0;
  }

  /** True when the checksums are not computed yet (offload): treat them as correct. */
  get checksumNotReady(): boolean {
    return ((this.#view.skbInfo ?? 0) & NFQA_SKB_CSUMNOTREADY) !== 0;
  }

  /** Packet mark; undefined when it is 0 (the kernel sends no mark then). */
  get mark(): number | undefined {
    return this.#view.mark;
  }

  /** When the packet was received; absent for locally generated packets. */
  get timestamp(): PacketTimestamp | undefined {
    return this.#view.timestamp;
  }

  /** Input interface index. */
  get indev(): number | undefined {
    return this.#view.indev;
  }

  /** Output interface index. */
  get outdev(): number | undefined {
    return this.#view.outdev;
  }

  /** Physical input interface index (bridge port). */
  get physindev(): number | undefined {
    return this.#view.physindev;
  }

  /** Physical output interface index (bridge port). */
  get physoutdev(): number | undefined {
    return this.#view.physoutdev;
  }

  /** Source hardware address. */
  get hwAddr(): Uint8Array | undefined {
    return this.#view.hwAddr;
  }

  /** Conntrack state (IP_CT_*); needs the `conntrack` option. */
  get ctInfo(): number | undefined {
    return this.#view.ctInfo;
  }

  /** Raw conntrack attributes; needs the `conntrack` option. */
  get ct(): Uint8Array | undefined {
    return this.#view.ct;
  }

  /** Owning socket's uid; needs the `uidGid` option. */
  get uid(): number | undefined {
    return this.#view.uid;
  }

  /** Owning socket's gid; needs the `uidGid` option. */
  get gid(): number | undefined {
    return this.#view.gid;
  }

  /** Security context; needs the `secctx` option. */
  get secctx(): string | undefined {
    return this.#view.secctx;
  }

  /** VLAN tag. */
  get vlan(): PacketVlan | undefined {
    return this.#view.vlan;
  }

  /** Link-layer header bytes. */
  get l2Header(): Uint8Array | undefined {
    return this.#view.l2Header;
  }

  /** skb->priority. */
  get priority(): number | undefined {
    return this.#view.priority;
  }

  /** True once the packet has its verdict. */
  get hasVerdict(): boolean {
    return this.#verdictGiven;
  }

  /** Lets the packet continue, optionally with a new mark, payload or connection mark. */
  accept(changes?: VerdictChanges): void {
    this.#give(NF_ACCEPT, changes);
  }

  /** Drops the packet. */
  drop(): void {
    this.#give(NF_DROP, undefined);
  }

  /** Runs the packet through the current hook again (usually with a new mark, to avoid a loop). */
  repeat(changes?: VerdictChanges): void {
    this.#give(NF_REPEAT, changes);
  }

  /** Sends the packet to queue `queueNum`. */
  queue(queueNum: number, options?: RequeueOptions): void {
    if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
      throw new RangeError(`queue number must be an integer from 0 to 65535, got ${queueNum}`);
    }
    this.#give(queueVerdict(queueNum, options?.bypass ?? false), undefined);
  }

  /** Accepts the packet and skips the remaining hooks of this priority (NF_STOP). */
  stop(changes?: VerdictChanges): void {
    this.#give(NF_STOP, changes);
  }

  #give(verdict: number, changes: VerdictChanges | undefined): void {
    if (this.#verdictGiven) throw new VerdictAlreadyGivenError(this.id);
    this.#sink.appendVerdict(this, verdict, changes); // throws on invalid changes: no verdict then
    this.#verdictGiven = true;
  }

  /** @internal */
  [markVerdictGiven](): void {
    this.#verdictGiven = true;
  }
}

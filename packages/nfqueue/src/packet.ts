import {
  NFQA_SKB_CSUMNOTREADY,
  NFQA_SKB_GSO,
  NF_ACCEPT,
  NF_DROP,
  NF_REPEAT,
  NF_STOP,
  PacketView,
  type UnknownAttribute,
  hookName,
} from '@nfq/netlink';
import { InvalidOptionError, VerdictAlreadyGivenError, type VerdictSource } from './errors.js';
import { checkChanges, checkKeys, checkedQueueVerdict } from './verdict-checks.js';

/** What a verdict may change besides letting the packet go or not. */
export interface VerdictChanges {
  /** New packet mark. */
  mark?: number;
  /**
   * Replacement packet, from the network header on (checksums are the caller's job). It must be a
   * whole IP packet of the packet's family (version, header and length fields within the bytes):
   * anything else is refused with InvalidVerdictError, since the kernel would drop it silently.
   */
  payload?: Uint8Array;
  /** New connection mark; needs the kernel's conntrack glue (CONFIG_NETFILTER_NETLINK_GLUE_CT). */
  connmark?: number;
  /**
   * New connection labels: 16 bytes, 128 label bits (bit n is bit n % 8 of byte n / 8), as
   * iptables' `-m connlabel --label n` reads them; needs the conntrack glue, and a connlabel rule
   * on the host (the kernel keeps labels only for connections made while such a rule exists).
   */
  connlabels?: Uint8Array;
  /** Which of the 128 label bits `connlabels` changes (16 bytes); every bit when absent. */
  connlabelsMask?: Uint8Array;
}

/** Options of {@link Packet.queue}. */
export interface RequeueOptions {
  /** Accept the packet when nothing listens on the target queue, instead of dropping it. */
  bypass?: boolean;
}

/** What a packet needs from its queue; implemented by the queue. @internal */
export interface VerdictSink {
  /** Checks and appends the verdict for `packet` to the next flush; throws before appending when invalid. */
  appendVerdict(packet: Packet, verdict: number, changes: VerdictChanges | undefined): void;
  /** The name of interface `index` in the queue's network namespace. */
  interfaceName(index: number): string | undefined;
}

/** Marks a packet as verdicted without sending anything (the queue sent or covered it). @internal */
export const markVerdictGiven: unique symbol = Symbol('markVerdictGiven');
/** The receive bank a packet's bytes lie in (-1: memory of its own), for the queue. @internal */
export const packetBank: unique symbol = Symbol('packetBank');
/** True once the packet handed out a view of its bytes (they must then stay where they are). @internal */
export const packetPinned: unique symbol = Symbol('packetPinned');
/** Copies the packet's bytes to `target` at `at` and reads them there (see PacketView.relocate). @internal */
export const movePacket: unique symbol = Symbol('movePacket');

/** Options of {@link Packet.toXml}, after libnetfilter_queue's `NFQ_XML_*` flags (all on by default). */
export interface PacketXmlOptions {
  /** `<when>`: the packet's timestamp, or the time of the call when the kernel sent none. */
  time?: boolean;
  /** `<hw>`: the hardware protocol and source address. */
  hw?: boolean;
  /** `<mark>`. */
  mark?: boolean;
  /** `<indev>`, `<outdev>`. */
  dev?: boolean;
  /** `<physindev>`, `<physoutdev>`. */
  physdev?: boolean;
  /** `<uid>`, `<gid>`. */
  uidGid?: boolean;
  /** `<secctx>`. */
  secctx?: boolean;
  /** `<payload>` in hex. */
  payload?: boolean;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
/** A hardware address as `aa:bb:cc:dd:ee:ff`. */
const colonHex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
const escapeXml = (text: string): string =>
  text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/**
 * One packet the kernel queued, waiting for exactly one verdict: {@link accept}, {@link drop},
 * {@link repeat}, {@link queue} or {@link stop}. A second verdict throws
 * {@link VerdictAlreadyGivenError}.
 *
 * The accessors read the received bytes where the kernel wrote them (a {@link PacketView} of
 * `@nfq/netlink`: no copy). Those bytes stay valid until the packet has its verdict, however long
 * that takes; after it, the queue may receive new packets into the same memory, so `payload` and
 * the other byte views must be read (or copied, `Buffer.from(packet.payload)`) before the verdict
 * if they are needed later. `id` and `verdictSource` stay valid for good.
 */
export class Packet extends PacketView {
  readonly #id: number;
  readonly #sink: VerdictSink;
  #verdictSource: VerdictSource | undefined;
  #payload: Buffer | undefined;
  #bank: number;
  #pinned = false;

  /**
   * Reads the packet message at `start` of `buffer`, received into bank `bank` (-1: memory of its
   * own); packets are made by the queue, not by users. @internal
   */
  constructor(buffer: Uint8Array, start: number, arrayBuffer: ArrayBufferLike, byteOffset: number, sink: VerdictSink, bank: number) {
    super(buffer, start, arrayBuffer, byteOffset);
    this.#id = super.id;
    this.#sink = sink;
    this.#bank = bank;
  }

  /** Packet id (unique among the queue's waiting packets). */
  override get id(): number {
    return this.#id;
  }

  /** Netfilter hook name as iptables spells the chain, e.g. 'OUTPUT'. */
  get hookName(): string | undefined {
    return hookName(this.family, this.hook);
  }

  /** Packet bytes from the network header on (a view, no copy); empty in copy mode 'meta'. */
  override get payload(): Buffer {
    if (this.#payload === undefined) {
      const bytes = super.payload;
      this.#pinned = true;
      this.#payload =
        bytes === undefined ? Buffer.alloc(0) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    return this.#payload;
  }

  /**
   * True when the payload is only the first part of the packet: the kernel cut it to the queue's
   * `copyRange` and sent the whole length in `capLen`. (A packet whose message did not fit the
   * receive buffer never becomes a `Packet`: it gets the default verdict, counted in
   * `stats().defaultVerdicts.cutByReceiver`.)
   */
  get cutByCopyRange(): boolean {
    const capLen = this.capLen;
    return capLen !== undefined && capLen !== (super.payload?.length ?? 0);
  }

  /** @deprecated Renamed {@link Packet.cutByCopyRange}. */
  get truncated(): boolean {
    return this.cutByCopyRange;
  }

  /** True for a GSO super-packet, larger than the MTU (needs the `gso` option). */
  get gso(): boolean {
    return ((this.skbInfo ?? 0) & NFQA_SKB_GSO) !== 0;
  }

  /** True when the checksums are not computed yet (offload): treat them as correct. */
  get checksumNotReady(): boolean {
    return ((this.skbInfo ?? 0) & NFQA_SKB_CSUMNOTREADY) !== 0;
  }

  /** Source hardware address (a view). */
  override get hwAddr(): Uint8Array | undefined {
    this.#pinned = true;
    return super.hwAddr;
  }

  /** The message's bytes, header included (a view). */
  override get bytes(): Uint8Array {
    this.#pinned = true;
    return super.bytes;
  }

  /**
   * Value bytes of attribute `type` (a view), as {@link PacketView.attribute}; `ct`, `exp`,
   * `secctxBytes` and `l2Header` come through here too.
   */
  override attribute(type: number): Uint8Array | undefined {
    this.#pinned = true;
    return super.attribute(type);
  }

  /** Attributes this package does not know, with views of their values. */
  override get unknownAttributes(): readonly UnknownAttribute[] {
    this.#pinned = true;
    return super.unknownAttributes;
  }

  /** The receive bank the bytes lie in; -1 once they were moved to memory of their own. @internal */
  get [packetBank](): number {
    return this.#bank;
  }

  /** True once a view of the bytes was handed out. @internal */
  get [packetPinned](): boolean {
    return this.#pinned;
  }

  /** Moves the bytes to `target` at `at` (memory of the packet's own from now on). @internal */
  [movePacket](target: Uint8Array, at: number): void {
    this.relocate(target, at);
    this.#bank = -1;
  }

  /** Name of the input interface, in the queue's network namespace. */
  get indevName(): string | undefined {
    return this.#deviceName(this.indev);
  }

  /** Name of the output interface. */
  get outdevName(): string | undefined {
    return this.#deviceName(this.outdev);
  }

  /** Name of the physical input interface (bridge port). */
  get physindevName(): string | undefined {
    return this.#deviceName(this.physindev);
  }

  /** Name of the physical output interface (bridge port). */
  get physoutdevName(): string | undefined {
    return this.#deviceName(this.physoutdev);
  }

  #deviceName(index: number | undefined): string | undefined {
    return index === undefined ? undefined : this.#sink.interfaceName(index);
  }

  /** True once the packet has its verdict. */
  get hasVerdict(): boolean {
    return this.#verdictSource !== undefined;
  }

  /** How the packet got its verdict: from a handler, a verdictBatch, or by default (handler error, timeout, close). */
  get verdictSource(): VerdictSource | undefined {
    return this.#verdictSource;
  }

  /**
   * Every attribute present, for `JSON.stringify` and logs: numbers as numbers, bytes as hex,
   * absent attributes left out.
   */
  toJSON(): Record<string, unknown> {
    const json: Record<string, unknown> = {
      id: this.id,
      queue: this.queueNum,
      family: this.family,
      hook: this.hook,
      hookName: this.hookName,
      hwProtocol: this.hwProtocol,
    };
    const put = (key: string, value: unknown): void => {
      if (value !== undefined) json[key] = value;
    };
    put('mark', this.mark);
    put('timestamp', this.timestamp);
    put('indev', this.indev);
    put('indevName', this.indevName);
    put('outdev', this.outdev);
    put('outdevName', this.outdevName);
    put('physindev', this.physindev);
    put('physindevName', this.physindevName);
    put('physoutdev', this.physoutdev);
    put('physoutdevName', this.physoutdevName);
    const hwAddr = super.hwAddr;
    if (hwAddr) put('hwAddr', colonHex(hwAddr));
    const payload = super.payload;
    if (payload) {
      put('payloadLength', payload.length);
      put('payload', hex(payload));
    }
    put('capLen', this.capLen);
    if (this.capLen !== undefined) put('cutByCopyRange', this.cutByCopyRange);
    put('skbInfo', this.skbInfo);
    if (this.skbInfo !== undefined) {
      put('gso', this.gso);
      put('checksumNotReady', this.checksumNotReady);
    }
    put('ctInfo', this.ctInfo);
    const ct = super.ct;
    if (ct) put('ct', hex(ct));
    put('uid', this.uid);
    put('gid', this.gid);
    put('secctx', this.secctx);
    put('vlan', this.vlan);
    const l2 = super.l2Header;
    if (l2) put('l2Header', hex(l2));
    put('priority', this.priority);
    return json;
  }

  /**
   * The line libnetfilter_queue's `examples/nf-queue.c` prints for a packet:
   * `packet received (id=1 hw=0x0800 hook=3, payload len 84)`, with its `truncated ` (cut by the
   * copy range) and `GSO ` prefixes and its `, hwaddr ...` and `, checksum not ready` parts when they apply.
   */
  override toString(): string {
    const payloadLength = super.payload?.length ?? 0;
    let line = '';
    if (this.cutByCopyRange) line += 'truncated ';
    if (this.gso) line += 'GSO ';
    line += `packet received (id=${this.id} hw=0x${this.hwProtocol.toString(16).padStart(4, '0')} hook=${this.hook}, payload len ${payloadLength}`;
    const hwAddr = super.hwAddr;
    if (hwAddr) {
      line += `, hwaddr ${colonHex(hwAddr)} len ${hwAddr.length}`;
    }
    if (this.checksumNotReady) line += ', checksum not ready';
    return `${line})`;
  }

  /**
   * The packet in libnetfilter_queue's XML form (`nfq_snprintf_xml`):
   * `<pkt><hook>3</hook><id>1</id><hw><proto>0800</proto></hw>...<payload>4500...</payload></pkt>`.
   */
  toXml(options: PacketXmlOptions = {}): string {
    checkXmlOptions(options);
    const on = (flag: keyof PacketXmlOptions): boolean => (Object.hasOwn(options, flag) ? options[flag] : undefined) ?? true;
    let xml = '<pkt>';
    if (on('time')) {
      const stamp = this.timestamp;
      const when = stamp ? new Date(stamp.sec * 1000 + Math.floor(stamp.usec / 1000)) : new Date();
      xml +=
        `<when><hour>${when.getHours()}</hour><min>${String(when.getMinutes()).padStart(2, '0')}</min>` +
        `<sec>${String(when.getSeconds()).padStart(2, '0')}</sec><wday>${when.getDay() + 1}</wday>` +
        `<day>${when.getDate()}</day><month>${when.getMonth() + 1}</month><year>${when.getFullYear()}</year></when>`;
    }
    xml += `<hook>${this.hook}</hook><id>${this.id}</id>`;
    if (on('hw')) {
      const hwAddr = super.hwAddr;
      xml += `<hw><proto>${this.hwProtocol.toString(16).padStart(4, '0')}</proto>`;
      if (hwAddr) xml += `<src>${hex(hwAddr)}</src>`;
      xml += '</hw>';
    }
    if (on('mark') && this.mark) xml += `<mark>${this.mark}</mark>`;
    if (on('dev')) {
      if (this.indev) xml += `<indev>${this.indev}</indev>`;
      if (this.outdev) xml += `<outdev>${this.outdev}</outdev>`;
    }
    if (on('physdev')) {
      if (this.physindev) xml += `<physindev>${this.physindev}</physindev>`;
      if (this.physoutdev) xml += `<physoutdev>${this.physoutdev}</physoutdev>`;
    }
    if (on('uidGid')) {
      if (this.uid !== undefined) xml += `<uid>${this.uid}</uid>`;
      if (this.gid !== undefined) xml += `<gid>${this.gid}</gid>`;
    }
    const secctx = this.secctx;
    if (on('secctx') && secctx !== undefined) xml += `<secctx>${escapeXml(secctx)}</secctx>`;
    const payload = super.payload;
    if (on('payload') && payload) xml += `<payload>${hex(payload)}</payload>`;
    return `${xml}</pkt>`;
  }

  /**
   * Lets the packet continue, optionally with a new mark, payload or connection mark. Every verdict
   * method checks its arguments first and throws {@link InvalidVerdictError} (nothing sent, the
   * packet still waiting) when one is wrong.
   */
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

  /** Sends the packet to queue `queueNum` (an integer from 0 to 65535). */
  queue(queueNum: number, options?: RequeueOptions): void {
    if (this.#verdictSource !== undefined) throw new VerdictAlreadyGivenError(this.id, this.#verdictSource);
    checkKeys(this.id, 'the queue options', options, ['bypass']);
    const bypass = options !== undefined && Object.hasOwn(options, 'bypass') ? options.bypass : undefined;
    this.#give(checkedQueueVerdict(this.id, queueNum, bypass ?? false), undefined);
  }

  /** Accepts the packet and skips the remaining hooks of this priority (NF_STOP). */
  stop(changes?: VerdictChanges): void {
    this.#give(NF_STOP, changes);
  }

  #give(verdict: number, changes: VerdictChanges | undefined): void {
    if (this.#verdictSource !== undefined) throw new VerdictAlreadyGivenError(this.id, this.#verdictSource);
    // Throws on invalid changes (or, in appendVerdict, a closed queue): no verdict then.
    this.#sink.appendVerdict(this, verdict, checkChanges(this, changes));
    this.#verdictSource = 'handler';
  }

  /** Records a verdict the queue gave or covered (VERDICT_BATCH, default verdicts). @internal */
  [markVerdictGiven](source: VerdictSource): void {
    this.#verdictSource = source;
  }
}

const XML_FLAGS: readonly string[] = ['time', 'hw', 'mark', 'dev', 'physdev', 'uidGid', 'secctx', 'payload'];

/** Checks the options of {@link Packet.toXml}: an object of known flags, each true or false. */
function checkXmlOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('toXml', `options must be an object such as { payload: false }, got ${options === null ? 'null' : typeof options}`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (!XML_FLAGS.includes(key)) throw new InvalidOptionError(key, `is not an option of toXml (known: ${XML_FLAGS.join(', ')})`);
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(key, `must be true or false, got ${String(value)}`);
  }
}

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
 * The accessors read the received bytes on demand; `payload` is a view into them, valid for as
 * long as the packet object is referenced.
 */
export class Packet {
  readonly #view: PacketView;
  readonly #sink: VerdictSink;
  #verdictSource: VerdictSource | undefined;
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

  /** Name of the input interface, in the queue's network namespace. */
  get indevName(): string | undefined {
    return this.#deviceName(this.#view.indev);
  }

  /** Name of the output interface. */
  get outdevName(): string | undefined {
    return this.#deviceName(this.#view.outdev);
  }

  /** Name of the physical input interface (bridge port). */
  get physindevName(): string | undefined {
    return this.#deviceName(this.#view.physindev);
  }

  /** Name of the physical output interface (bridge port). */
  get physoutdevName(): string | undefined {
    return this.#deviceName(this.#view.physoutdev);
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
    const view = this.#view;
    const json: Record<string, unknown> = {
      id: view.id,
      queue: view.queue,
      family: view.family,
      hook: view.hook,
      hookName: this.hookName,
      hwProtocol: view.hwProtocol,
    };
    const put = (key: string, value: unknown): void => {
      if (value !== undefined) json[key] = value;
    };
    put('mark', view.mark);
    put('timestamp', view.timestamp);
    put('indev', view.indev);
    put('indevName', this.indevName);
    put('outdev', view.outdev);
    put('outdevName', this.outdevName);
    put('physindev', view.physindev);
    put('physindevName', this.physindevName);
    put('physoutdev', view.physoutdev);
    put('physoutdevName', this.physoutdevName);
    const hwAddr = view.hwAddr;
    if (hwAddr) put('hwAddr', colonHex(hwAddr));
    const payload = view.payload;
    if (payload) {
      put('payloadLength', payload.length);
      put('payload', hex(payload));
    }
    put('capLen', view.capLen);
    if (view.capLen !== undefined) put('truncated', this.truncated);
    put('skbInfo', view.skbInfo);
    if (view.skbInfo !== undefined) {
      put('gso', this.gso);
      put('checksumNotReady', this.checksumNotReady);
    }
    put('ctInfo', view.ctInfo);
    const ct = view.ct;
    if (ct) put('ct', hex(ct));
    put('uid', view.uid);
    put('gid', view.gid);
    put('secctx', view.secctx);
    put('vlan', view.vlan);
    const l2 = view.l2Header;
    if (l2) put('l2Header', hex(l2));
    put('priority', view.priority);
    return json;
  }

  /**
   * The line libnetfilter_queue's `examples/nf-queue.c` prints for a packet:
   * `packet received (id=1 hw=0x0800 hook=3, payload len 84)`, with its `truncated ` and `GSO `
   * prefixes and its `, hwaddr ...` and `, checksum not ready` parts when they apply.
   */
  toString(): string {
    const view = this.#view;
    const payloadLength = view.payload?.length ?? 0;
    let line = '';
    if (this.truncated) line += 'truncated ';
    if (this.gso) line += 'GSO ';
    line += `packet received (id=${view.id} hw=0x${view.hwProtocol.toString(16).padStart(4, '0')} hook=${view.hook}, payload len ${payloadLength}`;
    const hwAddr = view.hwAddr;
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
    const view = this.#view;
    let xml = '<pkt>';
    if (on('time')) {
      const stamp = view.timestamp;
      const when = stamp ? new Date(stamp.sec * 1000 + Math.floor(stamp.usec / 1000)) : new Date();
      xml +=
        `<when><hour>${when.getHours()}</hour><min>${String(when.getMinutes()).padStart(2, '0')}</min>` +
        `<sec>${String(when.getSeconds()).padStart(2, '0')}</sec><wday>${when.getDay() + 1}</wday>` +
        `<day>${when.getDate()}</day><month>${when.getMonth() + 1}</month><year>${when.getFullYear()}</year></when>`;
    }
    xml += `<hook>${view.hook}</hook><id>${view.id}</id>`;
    if (on('hw')) {
      const hwAddr = view.hwAddr;
      xml += `<hw><proto>${view.hwProtocol.toString(16).padStart(4, '0')}</proto>`;
      if (hwAddr) xml += `<src>${hex(hwAddr)}</src>`;
      xml += '</hw>';
    }
    if (on('mark') && view.mark) xml += `<mark>${view.mark}</mark>`;
    if (on('dev')) {
      if (view.indev) xml += `<indev>${view.indev}</indev>`;
      if (view.outdev) xml += `<outdev>${view.outdev}</outdev>`;
    }
    if (on('physdev')) {
      if (view.physindev) xml += `<physindev>${view.physindev}</physindev>`;
      if (view.physoutdev) xml += `<physoutdev>${view.physoutdev}</physoutdev>`;
    }
    if (on('uidGid')) {
      if (view.uid !== undefined) xml += `<uid>${view.uid}</uid>`;
      if (view.gid !== undefined) xml += `<gid>${view.gid}</gid>`;
    }
    const secctx = view.secctx;
    if (on('secctx') && secctx !== undefined) xml += `<secctx>${escapeXml(secctx)}</secctx>`;
    const payload = view.payload;
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

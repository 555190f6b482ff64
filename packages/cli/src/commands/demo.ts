/**
 * `nf-queue demo`: NFQUEUE in a few seconds for a newcomer. Makes a private network namespace,
 * queues its outgoing UDP to port 9999 and its ICMP to queue 0 with iptables, opens the queue
 * there with @nfq/nfqueue, sends some datagrams (and some to a closed port, which the kernel
 * answers with ICMP port unreachable), prints each packet with its verdict as it happens
 * (every 5th is dropped), then a summary, and removes the namespace on every way out.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IcmpHeader, type Packet, type Queue, TcpHeader, UdpHeader, openQueue, parseIp } from '@nfq/nfqueue';
import {
  type CommandOutput,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  HOW_TO_GET_NET_ADMIN,
  hasNetAdmin,
  parseCapEff,
  processOutput,
  runProgram,
} from './shared.js';

/** `nf-queue demo --help`. */
export const DEMO_USAGE = `Usage: nf-queue demo

Shows NFQUEUE at work in a few seconds, without touching this machine's own rules: makes a
private network namespace, adds there
  iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0
  iptables -A OUTPUT -p icmp -j NFQUEUE --queue-num 0
opens queue 0 in it, sends UDP datagrams to 127.0.0.1:9999 and a few to the closed port 9998
(the kernel answers those with ICMP port unreachable, which the second rule queues), prints
each packet with its verdict (accept, and drop for every 5th), a summary, and deletes the
namespace again (also on Ctrl-C). Needs CAP_NET_ADMIN, ip (iproute2) and iptables.

  -h, --help  print this help`;

/** The queue the demo's rules feed (inside its own namespace, so it never meets the host's). */
const QUEUE = 0;
/** Where the demo's datagrams go: a receiver listens on the first; nothing on the second. */
const OPEN_PORT = 9999;
const CLOSED_PORT = 9998;
/** Datagrams sent, of which every 5th goes to the closed port. */
const DATAGRAMS = 15;
const SEND_INTERVAL_MS = 100;
/** Every how many packets one is dropped. */
const DROP_EVERY = 5;

/**
 * Runs inside the namespace: a receiver on 127.0.0.1:9999, a sender that sends `count`
 * datagrams `interval` ms apart (every 5th to the closed port), then prints what was received.
 */
const TRAFFIC = `
const dgram = require('node:dgram');
const [open, closed, count, interval] = process.argv.slice(1).map(Number);
const receiver = dgram.createSocket('udp4');
let received = 0, toOpen = 0, toClosed = 0;
receiver.on('message', () => { received++; });
receiver.bind(open, '127.0.0.1', () => {
  const sender = dgram.createSocket('udp4');
  let sent = 0;
  const next = () => {
    if (sent === count) {
      sender.close();
      setTimeout(() => { receiver.close(); console.log(JSON.stringify({ toOpen, toClosed, received })); }, 300);
      return;
    }
    const port = sent % 5 === 2 ? closed : open;
    if (port === open) toOpen++; else toClosed++;
    sender.send('hello from the demo, datagram ' + sent++, port, '127.0.0.1', () => setTimeout(next, interval));
  };
  next();
});`;

/** One line for a packet: the transport and its addresses, e.g. `UDP 127.0.0.1:40000 > 127.0.0.1:9999`. */
export function describeDemoPacket(payload: Uint8Array): string {
  try {
    const { ip, l4 } = parseIp(payload, { allowTruncated: true });
    if (l4 instanceof UdpHeader) return `UDP ${ip.source}:${l4.sourcePort} > ${ip.destination}:${l4.destinationPort}`;
    if (l4 instanceof TcpHeader) return `TCP ${ip.source}:${l4.sourcePort} > ${ip.destination}:${l4.destinationPort}`;
    if (l4 instanceof IcmpHeader) {
      const what = l4.type === 3 && l4.code === 3 ? ' (port unreachable)' : l4.type === 8 ? ' (echo request)' : '';
      return `ICMP ${ip.source} > ${ip.destination} type ${l4.type} code ${l4.code}${what}`;
    }
    return `${ip.source} > ${ip.destination}`;
  } catch {
    return 'unparsed packet';
  }
}

/** What `nf-queue demo` uses; tests may replace the output. */
export interface DemoDependencies {
  /** Where to write. */
  output?: CommandOutput;
}

/** Runs `nf-queue demo` with `args` (what follows `demo`); resolves to the exit status. */
export async function main(args: readonly string[], dependencies: DemoDependencies = {}): Promise<number> {
  const output = dependencies.output ?? processOutput;
  if (args.length > 0) {
    if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
      for (const line of DEMO_USAGE.split('\n')) output.out(line);
      return EXIT_OK;
    }
    output.err(`nf-queue demo: unknown option ${args[0]} (see nf-queue demo --help)`);
    return EXIT_USAGE;
  }
  let capEff: string | undefined;
  try {
    capEff = parseCapEff(readFileSync('/proc/thread-self/status', 'utf8'));
  } catch {
    capEff = undefined;
  }
  if (!hasNetAdmin(capEff)) {
    output.err(`nf-queue demo: needs CAP_NET_ADMIN (to make a namespace and bind a queue): ${HOW_TO_GET_NET_ADMIN}`);
    return EXIT_FAILED;
  }
  for (const [command, versionArg, apt] of [['ip', '-V', 'iproute2'], ['iptables', '--version', 'iptables']] as const) {
    const found = await runProgram(command, [versionArg]);
    if (!found.ok && found.notFound) {
      output.err(`nf-queue demo: needs the ${command} command: apt-get install -y ${apt} (nf-queue doctor checks everything)`);
      return EXIT_FAILED;
    }
  }
  return new Demo(output).run();
}

/** One run of the demo: its namespace, queue, traffic process and cleanup. */
class Demo {
  readonly #output: CommandOutput;
  readonly #namespace = `nfq-demo-${process.pid}-${randomBytes(3).toString('hex')}`;
  /** Settles once `ip netns add` has run: whether the namespace exists (so cleanup must delete it). */
  #namespaceMade: Promise<boolean> | undefined;
  #queue: Queue | undefined;
  #traffic: ChildProcess | undefined;
  #cleanup: Promise<void> | undefined;
  #interrupted = false;
  #accepted = 0;
  #dropped = 0;

  constructor(output: CommandOutput) {
    this.#output = output;
  }

  async run(): Promise<number> {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.#interrupted) return; // a second Ctrl-C: the cleanup under way finishes and exits
      this.#interrupted = true;
      this.#output.err(`nf-queue demo: ${signal}: cleaning up`);
      void this.cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const started = Date.now();
    try {
      await this.setUp();
      if (this.#interrupted) return EXIT_FAILED;
      const traffic = await this.sendTraffic();
      await new Promise((resolve) => setTimeout(resolve, 200)); // the last ICMP answers
      const seconds = (Date.now() - started) / 1000;
      const total = this.#accepted + this.#dropped;
      await this.cleanUp();
      this.#output.out(
        `demo: ${total} packets verdicted in ${seconds.toFixed(1)} s: ${this.#accepted} accepted, ${this.#dropped} dropped; ` +
          `the receiver on port ${OPEN_PORT} got ${traffic.received} of the ${traffic.toOpen} datagrams sent to it`,
      );
      this.#output.out(`demo: namespace ${this.#namespace} deleted. Next: nf-queue --help, nf-queue doctor, nf-queue stats`);
      return total > 0 ? EXIT_OK : EXIT_FAILED;
    } catch (error) {
      if (this.#interrupted) return EXIT_FAILED; // the signal handler cleans up and exits
      this.#output.err(`nf-queue demo: ${error instanceof Error ? error.message : String(error)}`);
      return EXIT_FAILED;
    } finally {
      await this.cleanUp();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  }

  /** The namespace, its rules and the open queue. */
  async setUp(): Promise<void> {
    const adding = this.#must('ip', ['netns', 'add', this.#namespace]);
    this.#namespaceMade = adding.then(() => true, () => false); // a signal may come while ip runs
    await adding;
    this.#output.out(`demo: made network namespace ${this.#namespace}`);
    await this.#must('ip', ['-n', this.#namespace, 'link', 'set', 'lo', 'up']);
    for (const match of [['-p', 'udp', '--dport', String(OPEN_PORT)], ['-p', 'icmp']]) {
      const rule = ['-A', 'OUTPUT', ...match, '-j', 'NFQUEUE', '--queue-num', String(QUEUE)];
      await this.#must('ip', ['netns', 'exec', this.#namespace, 'iptables', '-w', ...rule]);
      this.#output.out(`demo: iptables ${rule.join(' ')}`);
    }
    this.#queue = await openQueue({ queue: QUEUE, netns: this.#namespace, copyMode: 'packet' });
    this.#output.out(`demo: opened queue ${QUEUE} there; every ${DROP_EVERY}th packet is dropped, the others accepted`);
    this.#queue.on('packet', (packet) => this.#verdict(packet));
    this.#queue.on('error', (error) => this.#output.err(`nf-queue demo: ${error.message}`));
  }

  #verdict(packet: Packet): void {
    const drop = (this.#accepted + this.#dropped + 1) % DROP_EVERY === 0;
    if (drop) {
      packet.drop();
      this.#dropped++;
    } else {
      packet.accept();
      this.#accepted++;
    }
    this.#output.out(`${packet.toString()}  ${describeDemoPacket(packet.payload)}  -> ${drop ? 'drop' : 'accept'}`);
  }

  /** Runs the traffic process in the namespace; resolves to what it counted. */
  sendTraffic(): Promise<{ toOpen: number; toClosed: number; received: number }> {
    this.#output.out(
      `demo: sending ${DATAGRAMS} UDP datagrams in the namespace, to 127.0.0.1:${OPEN_PORT} and some to the closed port ${CLOSED_PORT}`,
    );
    const args = ['netns', 'exec', this.#namespace, process.execPath, '-e', TRAFFIC, String(OPEN_PORT), String(CLOSED_PORT), String(DATAGRAMS), String(SEND_INTERVAL_MS)];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#traffic = child;
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        reject(new Error('the traffic process did not finish within 10 s'));
      }, 10_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        this.#traffic = undefined;
        try {
          if (code !== 0) throw new Error(`status ${code}`);
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as { toOpen: number; toClosed: number; received: number });
        } catch (error) {
          reject(new Error(`the traffic process failed (${(error as Error).message}): ${stderr.trim().split('\n')[0] ?? ''}`));
        }
      });
    });
  }

  /** Stops the traffic, closes the queue and deletes the namespace; once, whoever asks first. */
  cleanUp(): Promise<void> {
    this.#cleanup ??= (async () => {
      if (this.#traffic && this.#traffic.exitCode === null) this.#traffic.kill('SIGTERM');
      try {
        await this.#queue?.close();
      } catch (error) {
        this.#output.err(`nf-queue demo: closing the queue: ${(error as Error).message}`);
      }
      if (await this.#namespaceMade) {
        const deleted = await runProgram('ip', ['netns', 'delete', this.#namespace]);
        if (!deleted.ok) this.#output.err(`nf-queue demo: could not delete namespace ${this.#namespace}: ${deleted.message}; run: ip netns delete ${this.#namespace}`);
      }
    })();
    return this.#cleanup;
  }

  async #must(command: string, args: readonly string[]): Promise<void> {
    const result = await runProgram(command, args);
    if (!result.ok) throw new Error(`${command} ${args.join(' ')}: ${result.message}`);
  }
}

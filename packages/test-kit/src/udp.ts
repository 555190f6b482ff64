/**
 * UDP traffic inside a test namespace: a receiver that records every datagram, a sender of given
 * payloads, and a flood that runs until stopped. Each runs as a Node.js child process in the
 * namespace (the Node.js running the tests).
 */
import { createInterface } from 'node:readline';
import { type TestNamespace, inNamespace } from './namespace.js';
import { type Started, startProcess } from './process.js';

/** Starts `script` (CommonJS, given to `node -e`) with `args` inside `ns`. */
function nodeInNamespace(ns: string, script: string, args: readonly string[]): Started {
  return startProcess('ip', inNamespace(ns, process.execPath, '-e', script, ...args));
}

/** A UDP socket bound inside a namespace, collecting what it receives. */
export interface UdpReceiver {
  /** Datagrams received so far, in order. */
  readonly received: Buffer[];
  /** Resolves with the first `count` datagrams once they have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<Buffer[]>;
  /** Stops the receiver process. */
  close(): Promise<void>;
}

// The lines go out through the thread pool (a write stream on fd 1), not process.stdout, whose
// writes to a pipe block: a parent slow to read (a loaded machine) would stop this process reading
// its socket, which then overflows (RcvbufErrors) and looks like a lost packet.
const RECEIVER_SCRIPT = `
const dgram = require('node:dgram');
const out = require('node:fs').createWriteStream('', { fd: 1 });
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
socket.on('message', (message) => out.write(JSON.stringify(message.toString('hex')) + '\\n'));
socket.bind(Number(process.argv[1]), process.argv[2], () => out.write('"listening"\\n'));
`;

/**
 * Starts a UDP receiver on `address`:`port` (default 127.0.0.1) inside `ns`; resolves once it
 * listens. Given a {@link TestNamespace}, it is closed with the namespace's clean-ups.
 */
export async function udpReceiver(ns: string | TestNamespace, port: number, address = '127.0.0.1'): Promise<UdpReceiver> {
  const receiver = await startReceiver(typeof ns === 'string' ? ns : ns.name, port, address);
  if (typeof ns !== 'string') ns.defer(() => receiver.close());
  return receiver;
}

function startReceiver(ns: string, port: number, address: string): Promise<UdpReceiver> {
  const started = nodeInNamespace(ns, RECEIVER_SCRIPT, [String(port), address]);
  const received: Buffer[] = [];
  const waiters: Array<() => void> = [];
  return new Promise((resolveListening, rejectListening) => {
    void started.exited.then((code) => rejectListening(new Error(`UDP receiver exited (${code}): ${started.stderr()}`)));
    createInterface({ input: started.child.stdout! }).on('line', (line) => {
      const value = JSON.parse(line) as string;
      if (value === 'listening') {
        resolveListening({
          received,
          waitFor(count, timeoutMs = 5_000) {
            return new Promise((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} datagrams in ${timeoutMs} ms`)), timeoutMs);
              const check = (): void => {
                if (received.length >= count) {
                  clearTimeout(timer);
                  resolve(received.slice(0, count));
                } else {
                  waiters.push(check);
                }
              };
              check();
            });
          },
          async close() {
            await started.stop();
          },
        });
        return;
      }
      received.push(Buffer.from(value, 'hex'));
      for (const waiter of waiters.splice(0)) waiter();
    });
  });
}

/** Options of {@link udpSend}. */
export interface UdpSendOptions {
  /** Source address (of the namespace's loopback, e.g. 127.0.0.2), or several: payload i goes from source i mod n. */
  source?: string | readonly string[];
  /** Rests `restMs` (default 1 ms) before sending payload n when n mod `restEvery` is 0, n > 0 (for a receiver to keep up). */
  restEvery?: number;
  restMs?: number;
  /** A fresh socket after every `perSocket` payloads (a queued packet stays charged to its socket's send buffer). */
  perSocket?: number;
  /** Sends this many at once and waits for them all (default 1: one after the other). */
  inFlight?: number;
}

const SENDER_SCRIPT = `
const dgram = require('node:dgram');
const port = Number(process.argv[1]);
let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', async () => {
  const { payloads, sources, restEvery, restMs, perSocket, inFlight } = JSON.parse(input);
  const open = (address) => new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    if (address === null) resolve(socket);
    else socket.bind({ address }, () => resolve(socket));
  });
  const sockets = [];
  const socketFor = async (n) => {
    const key = sources.length > 0 ? n % sources.length : 0;
    const generation = perSocket > 0 ? Math.floor(n / perSocket) : 0;
    const slot = generation * Math.max(sources.length, 1) + key;
    sockets[slot] ??= open(sources.length > 0 ? sources[key] : null);
    return sockets[slot];
  };
  const errors = [];
  const send = async (n) => {
    const socket = await socketFor(n);
    errors[n] = await new Promise((resolve) =>
      socket.send(Buffer.from(payloads[n], 'hex'), port, '127.0.0.1', (error) => resolve(error ? error.code : null)));
  };
  for (let n = 0; n < payloads.length; ) {
    if (restEvery > 0 && n > 0 && n % restEvery === 0) await new Promise((resolve) => setTimeout(resolve, restMs));
    const batch = [];
    for (const end = Math.min(n + inFlight, payloads.length); n < end; n++) batch.push(send(n));
    await Promise.all(batch);
  }
  process.stdout.write(JSON.stringify(errors));
  for (const socket of await Promise.all(sockets.filter(Boolean))) socket.close();
});
`;

/**
 * Sends each payload as one UDP datagram to 127.0.0.1:`port` from inside `ns`, in order; resolves
 * with the send error code of each (null when the send succeeded).
 */
export function udpSend(ns: string, port: number, payloads: readonly Uint8Array[], options: UdpSendOptions = {}): Promise<Array<string | null>> {
  const sender = nodeInNamespace(ns, SENDER_SCRIPT, [String(port)]);
  const sources = options.source === undefined ? [] : typeof options.source === 'string' ? [options.source] : options.source;
  sender.child.stdin.end(
    JSON.stringify({
      payloads: payloads.map((payload) => Buffer.from(payload).toString('hex')),
      sources,
      restEvery: options.restEvery ?? 0,
      restMs: options.restMs ?? 1,
      perSocket: options.perSocket ?? 0,
      inFlight: Math.max(1, options.inFlight ?? 1),
    }),
  );
  return sender.exited.then((code) => {
    if (code !== 0) throw new Error(`UDP sender exited (${code}): ${sender.stderr()}`);
    return JSON.parse(sender.stdout()) as Array<string | null>;
  });
}

/** `count` payloads `${prefix}${n}${suffix}` (n from 0), padded with 'x' to `size` bytes when given. */
export function numberedPayloads(count: number, prefix = 'datagram ', suffix = '', size = 0): Buffer[] {
  return Array.from({ length: count }, (_, n) => Buffer.from(`${prefix}${n}${suffix}`.padEnd(size, 'x')));
}

const FLOOD_SCRIPT = `
const dgram = require('node:dgram');
const [port, source, size] = process.argv.slice(1);
const socket = dgram.createSocket('udp4');
let running = true;
process.on('SIGTERM', () => (running = false));
socket.bind(0, source, async () => {
  for (let n = 0; running; n++) {
    await new Promise((resolve) => socket.send((source + ' ' + n + ' ').padEnd(Number(size), 'x'), Number(port), '127.0.0.1', resolve));
    if (n % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  socket.close();
});`;

/**
 * Starts sending datagrams `<source> <n> ` padded to `size` bytes from `source` to
 * 127.0.0.1:`port` inside `ns`, as fast as it can, until `stop()` (which resolves once the sender
 * has exited).
 */
export function udpFlood(ns: string, port: number, source: string, size = 200): { stop(): Promise<void> } {
  const flood = nodeInNamespace(ns, FLOOD_SCRIPT, [String(port), source, String(size)]);
  return {
    async stop() {
      await flood.stop('SIGTERM');
    },
  };
}

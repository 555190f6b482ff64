/**
 * `nf-queue --metrics HOST:PORT` and `nf-queue stats --prometheus` on the real kernel: the queue
 * lives in a private namespace (--netns), the metrics server on 127.0.0.1 of this process's own;
 * scraped with fetch during and after real UDP traffic. Needs root; run after `npm run build`.
 */
import { createServer } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { type UdpReceiver, killStartedProcesses, numberedPayloads, queueUdpTo, udpReceiver, udpSend, until, withNamespace } from '@nfq/test-kit';
import { PORT, nfQueue, startCli, waitCliBound } from './nf-queue.js';
import { summaryOf } from './summary.js';

afterEach(killStartedProcesses);

/** A TCP port free on 127.0.0.1 now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The samples of an exposition text, by `name{labels}` as written. */
function samplesOf(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), line.slice(at + 1) === '+Inf' ? Number.POSITIVE_INFINITY : Number(line.slice(at + 1)));
  }
  return samples;
}

/** Scrapes `url`; undefined until the server answers. */
async function scrape(url: string): Promise<{ contentType: string | null; samples: Map<string, number>; text: string } | undefined> {
  try {
    const response = await fetch(url);
    const text = await response.text();
    return { contentType: response.headers.get('content-type'), samples: samplesOf(text), text };
  } catch {
    return undefined;
  }
}

function withReceiver(body: (ns: string, receiver: UdpReceiver) => Promise<void>): Promise<void> {
  return withNamespace(async (namespace) => body(namespace.name, await udpReceiver(namespace, PORT)));
}

it('--metrics serves /metrics during the run; after N packets received, accepted and timed are N, nothing waits', { timeout: 30_000 }, () =>
  withReceiver(async (ns, receiver) => {
    await queueUdpTo(ns, PORT, 3);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const cli = startCli(['--netns', ns, '--quiet', '--metrics', `127.0.0.1:${port}`, '3']);
    await waitCliBound(ns, cli, 3);
    let scraped: Awaited<ReturnType<typeof scrape>>;
    await until(async () => (scraped = await scrape(url)) !== undefined, { what: () => cli.stderr() });
    expect(scraped!.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(scraped!.samples.get('nfqueue_packets_received_total{queue="3"}')).toBe(0);
    expect(scraped!.text).toContain('# TYPE nfqueue_handler_duration_seconds histogram');

    await udpSend(ns, PORT, numberedPayloads(10));
    await receiver.waitFor(10);
    const during = await scrape(url);
    expect(during!.samples.get('nfqueue_packets_received_total{queue="3"}')).toBe(10);

    const N = 40;
    await udpSend(ns, PORT, numberedPayloads(N - 10));
    await receiver.waitFor(N);
    let samples = new Map<string, number>();
    await until(async () => (samples = (await scrape(url))!.samples).get('nfqueue_packets_received_total{queue="3"}') === N, {
      what: () => JSON.stringify([...samples]),
    });
    expect(samples.get('nfqueue_verdicts_total{queue="3",verdict="accept"}')).toBe(N);
    expect(samples.get('nfqueue_verdicts_total{queue="3",verdict="drop"}')).toBe(0);
    expect(samples.get('nfqueue_default_verdicts_total{queue="3",reason="handler_error"}')).toBe(0);
    expect(samples.get('nfqueue_overruns_total{queue="3"}')).toBe(0);
    expect(samples.get('nfqueue_kernel_packets_waiting{queue="3"}')).toBe(0);
    expect(samples.get('nfqueue_kernel_queue_dropped_total{queue="3"}')).toBe(0);
    expect(samples.get('nfqueue_kernel_user_dropped_total{queue="3"}')).toBe(0);
    expect(samples.get('nfqueue_handler_duration_seconds_count{queue="3"}')).toBe(N);
    expect(samples.get('nfqueue_handler_duration_seconds_bucket{queue="3",le="+Inf"}')).toBe(N);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);

    expect(await cli.stop('SIGTERM'), cli.stderr()).toBe(0);
    expect(summaryOf(cli.stderr())).toEqual({ packets: N, accepted: N, dropped: 0 });
    expect(await scrape(url)).toBeUndefined(); // the server went with the run
  }),
);

it('--metrics with --queue-balance 3:4: each queue reported by its worker, adding up to what was sent', { timeout: 30_000 }, () =>
  withReceiver(async (ns, receiver) => {
    await queueUdpTo(ns, PORT, '3:4');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const cli = startCli(['--netns', ns, '--quiet', '--queue-balance', '3:4', '--metrics', `127.0.0.1:${port}`]);
    await waitCliBound(ns, cli, 3, 4);
    const N = 32;
    // The kernel's flow hash covers addresses only: several sources spread over both queues.
    const sources = Array.from({ length: N }, (_, i) => `127.0.0.${i + 2}`);
    await udpSend(ns, PORT, numberedPayloads(N), { source: sources });
    await receiver.waitFor(N);
    const received = (samples: Map<string, number>) => [3, 4].map((queue) => samples.get(`nfqueue_packets_received_total{queue="${queue}"}`) ?? 0);
    let samples = new Map<string, number>();
    await until(async () => received((samples = (await scrape(url))?.samples ?? new Map())).reduce((a, b) => a + b, 0) === N, {
      what: () => `${JSON.stringify([...samples])} ${cli.stderr()}`,
    });
    const [three, four] = received(samples);
    expect(three).toBeGreaterThan(0);
    expect(four).toBeGreaterThan(0);
    for (const queue of [3, 4]) {
      expect(samples.get(`nfqueue_verdicts_total{queue="${queue}",verdict="accept"}`)).toBe(samples.get(`nfqueue_packets_received_total{queue="${queue}"}`));
      expect(samples.get(`nfqueue_kernel_packets_waiting{queue="${queue}"}`)).toBe(0);
    }
    expect(await cli.stop('SIGTERM'), cli.stderr()).toBe(0);
    expect(summaryOf(cli.stderr())).toEqual({ packets: N, accepted: N, dropped: 0 });
  }),
);

it('--metrics refuses a bad HOST:PORT before binding (exit 2), and an address in use with exit 1', { timeout: 30_000 }, () =>
  withNamespace(async ({ name: ns }) => {
    const bad = await nfQueue(['--netns', ns, '--metrics', '127.0.0.1:99999', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--metrics must be HOST:PORT/);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as { port: number };
      const inUse = await nfQueue(['--netns', ns, '--quiet', '--metrics', `127.0.0.1:${port}`, '3']);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toContain(`cannot serve metrics on 127.0.0.1:${port}`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }),
);

it('stats --prometheus prints the kernel numbers of a queue another process holds', { timeout: 30_000 }, () =>
  withReceiver(async (ns, receiver) => {
    await queueUdpTo(ns, PORT, 5);
    const cli = startCli(['--netns', ns, '--quiet', '5']);
    await waitCliBound(ns, cli, 5);
    await udpSend(ns, PORT, numberedPayloads(3));
    await receiver.waitFor(3);
    const result = await nfQueue(['stats', '--netns', ns, '--prometheus']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('# HELP nfqueue_kernel_packets_waiting');
    expect(result.stdout).toContain('# TYPE nfqueue_kernel_user_dropped_total counter');
    const samples = samplesOf(result.stdout);
    expect(samples.get('nfqueue_kernel_packets_waiting{queue="5"}')).toBe(0);
    expect(samples.get('nfqueue_kernel_queue_dropped_total{queue="5"}')).toBe(0);
    expect(samples.get('nfqueue_kernel_user_dropped_total{queue="5"}')).toBe(0);
    expect(result.stdout).not.toContain('nfqueue_packets_received_total'); // another process's counters
    expect(await cli.stop('SIGTERM'), cli.stderr()).toBe(0);
  }),
);

/**
 * The exactly-once promise under random faults, on the real kernel: a short run of the soak in
 * test/soak/fault-soak.mjs (the long run: scripts/fault-soak.mjs --packets 1000000). Numbered UDP
 * datagrams through a real queue in a private namespace, random verdicts, handler failures,
 * timeouts and queue lifetimes (close, abort, leaving the iterators, nf-queue with its stdout
 * closed); every datagram sent is checked against what arrived. The seed is printed; set
 * NFQ_SOAK_SEED to replay one.
 */
import { describe, expect, it } from 'vitest';
import { mangle, openQueue, queueStats } from '../src/index.js';
import { formatReport, runFaultSoak, vacuityProblems } from './soak/fault-soak.mjs';

const seed = process.env.NFQ_SOAK_SEED ? Number(process.env.NFQ_SOAK_SEED) : Math.floor(Math.random() * 2 ** 31);

describe('exactly-once soak', () => {
  it(`every datagram gets exactly one verdict and arrives as that verdict says (seed ${seed})`, async () => {
    const report = await runFaultSoak({
      lib: { openQueue, queueStats, mangle },
      distUrl: new URL('../dist/index.js', import.meta.url).href,
      cliPath: new URL('../../cli/bin/nf-queue.js', import.meta.url).pathname,
      packets: 30_000,
      packetsPerCase: 1_000,
      seed,
    });
    const text = formatReport(report);
    console.log(text);
    // The run must have done something worth judging: traffic, every action and every lifetime.
    expect(vacuityProblems(report), text).toEqual([]);
    expect(report.cases.length, text).toBeGreaterThanOrEqual(10);
    expect(report.violationCounts, text).toEqual({});
    // A guard, not a figure under test: a run takes about 25 s; a plan of slow cases (a low
    // highWaterMark with packets left to verdictTimeout) several times that.
  }, 240_000);

  it('the checker finds a wrong default verdict and a lost rewrite', async () => {
    // The same soak over a sabotaged package: every queue gets the other default verdict, and
    // the rewrite hands back the packet unchanged. A checker that misses these proves nothing.
    const report = await runFaultSoak({
      lib: {
        openQueue: (options: Parameters<typeof openQueue>[0]) =>
          openQueue({ ...options, defaultVerdict: options.defaultVerdict === 'drop' ? 'accept' : 'drop' }),
        queueStats,
        mangle: (packet: Uint8Array) => Buffer.from(packet),
      },
      distUrl: new URL('../dist/index.js', import.meta.url).href,
      cliPath: new URL('../../cli/bin/nf-queue.js', import.meta.url).pathname,
      packets: 8_000,
      packetsPerCase: 1_000,
      seed: 1, // a plan whose lifetimes rewrite and give default verdicts
      childCases: false,
    });
    const text = formatReport(report);
    expect(report.actionsSeen.rewrite, text).toBeGreaterThan(0);
    expect(report.violationCounts['rewrite lost: original payload arrived'], text).toBeGreaterThan(0);
    expect((report.violationCounts['dropped packet arrived'] ?? 0) + (report.violationCounts['accepted packet lost'] ?? 0), text).toBeGreaterThan(0);
  }, 120_000);
});

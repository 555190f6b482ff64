/** The summary line nf-queue prints on stderr at the end of a run, for the tests that run it. */
import { expect } from 'vitest';

/** The summary line: packets, accepted, dropped, then the overrun events, the time and the rate. */
export const SUMMARY = /^nf-queue: (\d+) packets: (\d+) accepted, (\d+) dropped.*; \d+ overrun events?; \d+\.\d\d s, [\d.]+ packets\/s$/;

/** The one summary line on stderr, parsed (fails the test unless stderr is exactly that line). */
export function summaryOf(stderr: string): { packets: number; accepted: number; dropped: number } {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  const match = SUMMARY.exec(lines[0]!);
  expect(match, stderr).not.toBeNull();
  return { packets: Number(match![1]), accepted: Number(match![2]), dropped: Number(match![3]) };
}

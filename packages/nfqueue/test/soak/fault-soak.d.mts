/** Types of fault-soak.mjs (plain JavaScript, so that scripts/fault-soak.mjs runs it without a build). */
export declare const ACTIONS: readonly string[];
export declare const LIFECYCLES: readonly string[];

export interface FaultSoakOptions {
  /** The package under test: its openQueue, queueStats and mangle. */
  lib: { openQueue: unknown; queueStats: unknown; mangle: unknown };
  /** URL of the built package (dist/index.js), imported by child processes. */
  distUrl: string;
  /** Path of packages/cli/bin/nf-queue.js. */
  cliPath: string;
  /** Datagrams to send in all. */
  packets: number;
  /** Seed of the generator: the same seed replays the same choices. */
  seed: number;
  /** Mean datagrams per queue lifetime (default 1500). */
  packetsPerCase?: number;
  /** Send rate in datagrams per second (default 25000; some lifetimes send faster). */
  pps?: number;
  /** Runs the child-process lifetimes (default true). */
  childCases?: boolean;
  log?: (line: string) => void;
}

export interface FaultSoakViolation {
  kind: string;
  seq?: number;
  case?: number;
  lifecycle?: string;
  action?: string;
  verdict?: string;
  source?: string;
  [detail: string]: unknown;
}

export interface FaultSoakReport {
  seed: number;
  packetsRequested: number;
  cases: Array<Record<string, unknown>>;
  casesByLifecycle: Record<string, number>;
  sent: number;
  sendErrors: number;
  seen: number;
  arrived: number;
  arrivedRewritten: number;
  actionsSeen: Record<string, number>;
  sources: Record<string, number>;
  errorsReported: Record<string, number>;
  markedVerdicts: number;
  markCounter: number;
  overruns: number;
  receiverDrops: number;
  inconclusive: Record<string, number>;
  violations: FaultSoakViolation[];
  violationCounts: Record<string, number>;
  violationSeqs: Record<string, number[]>;
  rss: { warmMB?: number; endMB: number; maxMB: number; growthMB?: number; packetsAfterWarm: number; bytesPerPacketAfterWarm?: number };
  durationMs: number;
}

export declare function seededRandom(seed: number): () => number;
export declare function runFaultSoak(options: FaultSoakOptions): Promise<FaultSoakReport>;
export declare function vacuityProblems(report: FaultSoakReport, options?: { requireAll?: boolean }): string[];
export declare function formatReport(report: FaultSoakReport): string;

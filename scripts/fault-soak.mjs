#!/usr/bin/env node
// The long run of the exactly-once soak (the short one runs in `npm test` as
// packages/nfqueue/test/kernel-soak.test.ts): numbered UDP datagrams through a real queue in a
// private network namespace, each packet's handler choosing at random among accept, drop, mark,
// rewrite, hold, throw, reject and no answer, queues closed, aborted and left in random ways, the
// nf-queue command with its stdout closed early; then every datagram sent is checked against
// what arrived (see packages/nfqueue/test/soak/fault-soak.mjs). Prints the report; exits 1 on a
// violation, on a run that proves nothing (nothing sent, an action never exercised), or when the
// RSS grew by more than --max-rss-growth-mb after warm-up (checked from 200,000 datagrams on).
//
// Usage: node scripts/fault-soak.mjs [--packets N] [--seed S] [--per-case N] [--pps N]
//          [--no-child-cases] [--max-rss-growth-mb MB] [--json FILE] [--root DIR]
//   (needs root; uses the built package: npx tsc -p packages/nfqueue and packages/cli first)
//   --root DIR runs the package built in another checkout DIR (e.g. an older version).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatReport, runFaultSoak, vacuityProblems } from '../packages/nfqueue/test/soak/fault-soak.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const known = ['--packets', '--seed', '--per-case', '--pps', '--max-rss-growth-mb', '--json', '--root'];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--no-child-cases' || args[i] === '--help' || args[i] === '-h') continue;
  if (!known.includes(args[i])) {
    console.error(`fault-soak: unknown argument ${args[i]} (see the usage at the top of scripts/fault-soak.mjs)`);
    process.exit(2);
  }
  i++;
}
if (args.includes('--help') || args.includes('-h')) {
  console.log('Usage: node scripts/fault-soak.mjs [--packets N] [--seed S] [--per-case N] [--pps N] [--no-child-cases] [--max-rss-growth-mb MB] [--json FILE] [--root DIR]');
  process.exit(0);
}
const packets = Number(option('--packets', '200000'));
const seed = Number(option('--seed', String(Math.floor(Math.random() * 2 ** 31))));
const perCase = Number(option('--per-case', '1500'));
const pps = Number(option('--pps', '25000'));
const maxRssGrowthMb = Number(option('--max-rss-growth-mb', '100'));
const root = resolve(option('--root', new URL('..', import.meta.url).pathname));
for (const [name, value] of Object.entries({ packets, seed, perCase, pps, maxRssGrowthMb })) {
  if (!Number.isFinite(value) || value < 0) {
    console.error(`fault-soak: --${name} must be a non-negative number`);
    process.exit(2);
  }
}
if (process.getuid?.() !== 0) {
  console.error('fault-soak: needs root (network namespaces, iptables, NFQUEUE)');
  process.exit(1);
}

const distUrl = pathToFileURL(`${root}/packages/nfqueue/dist/index.js`).href;
const lib = await import(distUrl);
console.log(`fault soak: seed ${seed}, ${packets} datagrams, package from ${root}`);
const report = await runFaultSoak({
  lib,
  distUrl,
  cliPath: `${root}/packages/cli/bin/nf-queue.js`,
  packets,
  seed,
  packetsPerCase: perCase,
  pps,
  childCases: !args.includes('--no-child-cases'),
  log: (line) => console.log(`  ${line}`),
});
console.log(formatReport(report));
const problems = vacuityProblems(report, { requireAll: packets >= 20_000 });
for (const problem of problems) console.log(`  the run proves nothing here: ${problem}`);
const long = packets >= 200_000;
const rssTooHigh = long && report.rss.growthMB !== undefined && report.rss.growthMB > maxRssGrowthMb;
if (rssTooHigh) console.log(`  RSS grew by ${report.rss.growthMB} MB after warm-up: more than ${maxRssGrowthMb} MB`);
const jsonFile = option('--json');
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
const failed = Object.keys(report.violationCounts).length > 0 || problems.length > 0 || rssTooHigh;
const replay = `node scripts/fault-soak.mjs --packets ${packets} --seed ${seed}${option('--root') ? ` --root ${root}` : ''}`;
console.log(failed ? `FAILED (replay: ${replay})` : 'passed');
process.exit(failed ? 1 : 0);

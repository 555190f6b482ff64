#!/usr/bin/env node
// `npm run bench`: the queue benchmark (queue-bench.mjs, needs root), then the decode benchmark
// (netlink-decode.mjs). Arguments go to the queue benchmark: npm run bench -- --quick
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));
let exitCode = 0;
for (const [script, args] of [
  ['queue-bench.mjs', process.argv.slice(2)],
  ['netlink-decode.mjs', []],
]) {
  console.log(`\n=== bench/${script} ${args.join(' ')}`.trimEnd());
  const result = spawnSync(process.execPath, [here(script), ...args], { stdio: 'inherit' });
  if (result.status !== 0) exitCode = result.status ?? 1;
}
process.exitCode = exitCode;

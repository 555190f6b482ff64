#!/usr/bin/env node
// node scripts/test-runtimes.mjs [MAJOR|current]...   (default: 22 24)
// Runs the TypeScript test suites again on other Node.js versions: vitest in packages/netlink,
// packages/nfqueue, packages/cli, packages/test-kit and examples, kernel tests included (run as root), with the
// Node.js of scripts/runtimes/node-MAJOR (bash scripts/runtimes.sh installs them) first on PATH,
// so that the tests' child processes (process.execPath, `node`, npm's) run on it too. `current`
// is the Node.js running this script. The native binding is N-API: the same .node loads on every
// version. Run after `npm run build` (and `npm test`, which typechecks).
// Two suites run at a time, as `npm test` runs them (turbo, concurrency 2): the packages/cli
// suites one after another (they pack into the same dist-tarballs/), everything else beside them.
// Each suite's output is printed when it ends; then each suite's time and a closing count. Exits 1
// when a suite fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['22', '24'];

const nodes = wanted.map((major) => {
  const node = major === 'current' ? process.execPath : join(root, `scripts/runtimes/node-${major}/bin/node`);
  if (!existsSync(node)) {
    console.error(`test-runtimes: ${node} is missing: run bash scripts/runtimes.sh`);
    process.exit(1);
  }
  return { node, version: spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim() };
});
const jobs = (suites) => nodes.flatMap(({ node, version }) => suites.map((suite) => ({ node, version, suite })));
const lanes = [jobs(['packages/cli']), jobs(['packages/nfqueue', 'packages/netlink', 'packages/test-kit', 'examples'])];

/** Runs one suite with its output collected; resolves with how it went. */
function runSuite({ node, version, suite }) {
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const cwd = join(root, suite);
  // As each package's `npm test` does first: namespaces a killed run left behind go.
  spawnSync(node, [join(root, 'scripts/clean-test-namespaces.mjs')], { cwd, env, stdio: 'ignore' });
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(node, [vitest, 'run'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.on('close', (status, signal) => {
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`\n== test-runtimes: ${suite} on Node.js ${version} (${seconds.toFixed(1)} s)\n${Buffer.concat(output)}`);
      resolve({ version, suite, seconds, passed: status === 0, status: status ?? signal });
    });
  });
}

const started = performance.now();
const results = (
  await Promise.all(
    lanes.map(async (lane) => {
      const done = [];
      for (const job of lane) done.push(await runSuite(job));
      return done;
    }),
  )
).flat();

console.log('\n== test-runtimes: suite times (two at a time)');
for (const { version, suite, passed, seconds, status } of results) {
  console.log(`${version.padEnd(9)} ${suite.padEnd(17)} ${seconds.toFixed(1).padStart(6)} s  ${passed ? 'passed' : `FAILED (${status})`}`);
}
console.log(`all: ${((performance.now() - started) / 1000).toFixed(1)} s`);
const failed = results.filter((result) => !result.passed).length;
console.log(`suites: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

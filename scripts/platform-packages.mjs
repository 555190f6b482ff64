#!/usr/bin/env node
// The platform packages of @nfq/nfqueue (packages/nfqueue/npm/<platform>, made by `napi create-npm-dirs`).
// They are npm workspaces, so that changesets versions them with @nfq/nfqueue; npm refuses to
// install a workspace whose `cpu`/`libc` do not match the machine (npm/cli#6138), so the committed
// package.json files leave those two fields out and the release adds them just before publishing:
//   node scripts/platform-packages.mjs manifest [DIR...]  adds `cpu` and `libc` (as napi writes them)
//   node scripts/platform-packages.mjs check [DIR...]     fails unless DIR is ready to publish: the
//     fields are there, the version and engines are @nfq/nfqueue's and its optionalDependencies pin it, the binary
//     is there, stripped and needs no glibc above 2.17 (scripts/check-binary.sh), and loads in node on
//     its own platform. Each platform package runs it as `prepublishOnly`.
// Without DIR: every platform package.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const npmDir = join(root, 'packages/nfqueue/npm');
const main = JSON.parse(readFileSync(join(root, 'packages/nfqueue/package.json'), 'utf8'));
const GLIBC_FLOOR = '2.17';

const [command, ...args] = process.argv.slice(2);
const dirs = args.length > 0
  ? args.map((dir) => resolve(dir))
  : readdirSync(npmDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(npmDir, e.name));

/** linux-arm64-musl -> { os: 'linux', cpu: 'arm64', libc: 'musl' } */
function platformOf(dir) {
  const match = /^(linux)-(x64|arm64)-(gnu|musl)$/.exec(basename(dir));
  if (!match) throw new Error(`${dir} is not a platform package directory (linux-<x64|arm64>-<gnu|musl>)`);
  return { os: match[1], cpu: match[2], libc: match[3] === 'gnu' ? 'glibc' : 'musl', abi: match[3] };
}

function readPackage(dir) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

function manifest(dir) {
  const { cpu, libc } = platformOf(dir);
  const pkg = readPackage(dir);
  pkg.cpu = [cpu];
  pkg.libc = [libc];
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  console.log(`platform-packages: ${pkg.name}: cpu ${cpu}, libc ${libc}`);
}

function check(dir) {
  const platform = platformOf(dir);
  const pkg = readPackage(dir);
  const problems = [];
  const name = `${main.name}-${basename(dir)}`;
  if (pkg.name !== name) problems.push(`name is ${pkg.name}, expected ${name}`);
  if (pkg.version !== main.version) problems.push(`version ${pkg.version} is not ${main.name}'s ${main.version}`);
  if (main.optionalDependencies?.[pkg.name] !== pkg.version) {
    problems.push(`${main.name} optionalDependencies pin ${main.optionalDependencies?.[pkg.name] ?? 'nothing'} for it, not ${pkg.version}`);
  }
  if (JSON.stringify(pkg.engines) !== JSON.stringify(main.engines)) {
    problems.push(`engines ${JSON.stringify(pkg.engines)} are not ${main.name}'s ${JSON.stringify(main.engines)}`);
  }
  for (const field of ['os', 'cpu', 'libc']) {
    if (JSON.stringify(pkg[field]) !== JSON.stringify([platform[field]])) {
      problems.push(`${field} is ${JSON.stringify(pkg[field])}, expected ["${platform[field]}"] (node scripts/platform-packages.mjs manifest adds cpu and libc)`);
    }
  }
  const binary = join(dir, pkg.main ?? '');
  if (!pkg.main || !existsSync(binary)) {
    problems.push(`its binary ${pkg.main} is missing (scripts/build-native.sh or napi artifacts puts it there)`);
  } else {
    try {
      execFileSync('bash', [join(root, 'scripts/check-binary.sh'), binary, ...(platform.abi === 'gnu' ? [GLIBC_FLOOR] : [])], { stdio: 'inherit' });
    } catch {
      problems.push(`${pkg.main} fails scripts/check-binary.sh`);
    }
    const here = process.arch === platform.cpu && (process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl') === platform.libc;
    if (here) {
      try {
        const binding = createRequire(import.meta.url)(binary);
        if (typeof binding.NativeQueue !== 'function') problems.push(`${pkg.main} exports no NativeQueue`);
      } catch (error) {
        problems.push(`${pkg.main} does not load: ${error.message}`);
      }
    }
  }
  if (problems.length > 0) {
    console.error(`platform-packages: ${pkg.name} is not ready to publish:\n  ${problems.join('\n  ')}`);
    return false;
  }
  console.log(`platform-packages: ${pkg.name} ${pkg.version} is ready to publish`);
  return true;
}

if (command === 'manifest') {
  for (const dir of dirs) manifest(dir);
} else if (command === 'check') {
  const results = dirs.map(check);
  if (results.includes(false)) process.exit(1);
} else {
  console.error('usage: node scripts/platform-packages.mjs manifest|check [DIR...]');
  process.exit(2);
}

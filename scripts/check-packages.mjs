#!/usr/bin/env node
// Checks what each published package would ship (`npm pack --dry-run` of every public workspace,
// `cargo package --list` of nfq-core) against what a user needs:
// - npm: a LICENSE; `license` MIT; `repository` (this repository, `directory` = the package's folder),
//   `homepage`, `bugs`; `publishConfig.access` public; every file that main/types/bin/exports name;
//   every source of every shipped source map (or no map at all); no tests, no tsbuildinfo;
//   @nfq/cli exports only its package.json and ships no type declarations (it is a command, not an API).
// - the crate: a LICENSE, no package.json (turbo's pseudo-package), every fixture its tests read.
// Run after `npm run build`. Exits 1 listing every problem.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const REPOSITORY = 'git+https://github.com/nfq-rs/nfqueue.git';
const problems = [];

const workspaces = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  .filter((ws) => !ws.private);
const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...workspaces.flatMap((ws) => ['-w', ws.name])], {
  cwd: root,
  encoding: 'utf8',
}));

/** Every path that `exports` (any condition, any depth) names. */
function exportTargets(exports) {
  if (typeof exports === 'string') return [exports];
  if (exports && typeof exports === 'object') return Object.values(exports).flatMap(exportTargets);
  return [];
}

for (const ws of workspaces) {
  const dir = join(root, ws.location);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const report = packed.find((p) => p.name === pkg.name);
  const say = (problem) => problems.push(`${pkg.name}: ${problem}`);
  if (!report) {
    say('npm pack --dry-run did not report it');
    continue;
  }
  const files = new Set(report.files.map((f) => f.path));

  if (!files.has('LICENSE')) say('ships no LICENSE');
  if (pkg.license !== 'MIT') say(`license is ${pkg.license}, not MIT`);
  if (pkg.repository?.url !== REPOSITORY) say(`repository.url is ${pkg.repository?.url}, not ${REPOSITORY}`);
  if (pkg.repository?.directory !== ws.location) say(`repository.directory is ${pkg.repository?.directory}, not ${ws.location}`);
  if (!pkg.homepage) say('has no homepage');
  if (!pkg.bugs?.url) say('has no bugs.url');
  if (pkg.publishConfig?.access !== 'public') say('publishConfig.access is not public');

  const named = [pkg.main, pkg.types, ...Object.values(typeof pkg.bin === 'string' ? { bin: pkg.bin } : (pkg.bin ?? {})), ...exportTargets(pkg.exports)]
    .filter((target) => typeof target === 'string' && !target.includes('*'))
    .map((target) => normalize(target));
  for (const target of named) {
    // A platform package's binary is missing until its target is built; the release checks it (scripts/platform-packages.mjs).
    if (!files.has(target) && !target.endsWith('.node')) say(`names ${target}, which it does not ship`);
  }

  for (const file of files) {
    if (/(^|\/)(test|tests|__tests__)\//.test(file) || /\.(test|spec)\.[cm]?[jt]s$/.test(file)) say(`ships a test file: ${file}`);
    if (file.endsWith('.tsbuildinfo')) say(`ships ${file}`);
    if (!file.endsWith('.map')) continue;
    const map = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    for (const source of map.sources ?? []) {
      const path = normalize(join(dirname(file), map.sourceRoot ?? '', source));
      if (!files.has(path)) say(`${file} maps to ${path}, which it does not ship`);
    }
  }

  if (pkg.name === '@nfq/cli') {
    const exported = Object.keys(pkg.exports ?? {});
    if (pkg.types || exported.some((key) => key !== './package.json')) say(`exports ${JSON.stringify(pkg.exports)} / types ${pkg.types}: a command exports only ./package.json`);
    for (const file of files) if (file.endsWith('.d.ts')) say(`ships type declarations (${file}) for an API it does not export`);
  }
}

// The crate.
const cargo = process.env.CARGO ?? 'cargo';
const crateFiles = new Set(execFileSync(cargo, ['package', '--list', '--allow-dirty', '-p', 'nfq-core'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean));
if (crateFiles.has('package.json')) problems.push('nfq-core: the crate ships package.json');
if (!crateFiles.has('LICENSE')) problems.push('nfq-core: the crate ships no LICENSE');
// Its tests read the fixtures and the shared facts (both linked into the crate's directory).
for (const directory of ['fixtures', 'facts']) {
  for (const file of readdirSync(join(root, directory), { recursive: true, withFileTypes: true })) {
    if (!file.isFile()) continue;
    const path = relative(root, join(file.parentPath, file.name));
    if (!crateFiles.has(path)) problems.push(`nfq-core: the crate lacks ${path}, which its tests read`);
  }
}

if (problems.length > 0) {
  console.error(`check-packages: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-packages: ${workspaces.map((ws) => ws.name).join(', ')} and the nfq-core crate ship what a user needs`);

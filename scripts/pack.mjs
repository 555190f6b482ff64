#!/usr/bin/env node
// npm run pack: writes an installable tarball of every published package to dist-tarballs/:
// @nfq/netlink, @nfq/nfqueue, @nfq/cli and the platform binary package of this machine
// (@nfq/nfqueue-linux-x64-gnu on x64 glibc): the .node built by `npm run build` goes into a copy of the
// package napi create-npm-dirs made in packages/nfqueue/npm/<platform>, as `napi artifacts` does, and
// gets the `cpu`/`libc` fields the release adds (scripts/platform-packages.mjs), so the tarball is the
// one the release would publish; it must pass the same checks (glibc 2.17 floor, stripped, loads).
// Installing them needs no Rust, no C compiler and no libnetfilter_queue:
//   npm install ./dist-tarballs/*.tgz
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist-tarballs');
const nfqueue = join(root, 'packages/nfqueue');
const libc = process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
const platform = `linux-${process.arch}-${libc}`;
const binary = `nfqueue.${platform}.node`;

for (const built of ['packages/netlink/dist', 'packages/nfqueue/dist', 'packages/cli/dist', `packages/nfqueue/native/${binary}`]) {
  if (!existsSync(join(root, built))) {
    console.error(`pack: ${built} is missing: run npm run build first`);
    process.exit(1);
  }
}
if (!existsSync(join(nfqueue, 'npm', platform))) {
  console.error(`pack: packages/nfqueue/npm/${platform} is missing: ${platform} is not one of @nfq/nfqueue's napi.targets`);
  process.exit(1);
}

function run(command, args) {
  try {
    return execFileSync(command, args, { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    console.error(`pack: ${command} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    process.exit(1);
  }
}

// The napi-rs way: the binary goes into its platform package, where the generated loader
// (native/index.cjs) finds it when @nfq/nfqueue has no binary of its own.
const staged = join(root, 'target/pack', platform);
rmSync(staged, { recursive: true, force: true });
mkdirSync(dirname(staged), { recursive: true });
cpSync(join(nfqueue, 'npm', platform), staged, { recursive: true });
copyFileSync(join(nfqueue, 'native', binary), join(staged, binary));
run(process.execPath, [join(root, 'scripts/platform-packages.mjs'), 'manifest', staged]);
run(process.execPath, [join(root, 'scripts/platform-packages.mjs'), 'check', staged]);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const workspaces = ['@nfq/netlink', '@nfq/nfqueue', '@nfq/cli'];
run('npm', ['pack', '--pack-destination', out, ...workspaces.flatMap((name) => ['-w', name])]);
run('npm', ['pack', '--pack-destination', out, staged]);
for (const file of readdirSync(out).sort()) console.log(join('dist-tarballs', file));

#!/usr/bin/env node
// npm run pack: writes an installable tarball of every published package to dist-tarballs/:
// @nfq/netlink, @nfq/nfqueue, its platform binary package @nfq/nfqueue-linux-x64-gnu (the .node
// built by `npm run build`, copied into the package napi create-npm-dirs made in
// packages/nfqueue/npm/linux-x64-gnu, as `napi artifacts` does) and @nfq/cli. Installing them needs no Rust, no C compiler and no libnetfilter_queue:
//   npm install ./dist-tarballs/*.tgz
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist-tarballs');
const nfqueue = join(root, 'packages/nfqueue');
const binary = 'nfqueue.linux-x64-gnu.node';

for (const built of ['packages/netlink/dist', 'packages/nfqueue/dist', 'packages/cli/dist', `packages/nfqueue/native/${binary}`]) {
  if (!existsSync(join(root, built))) {
    console.error(`pack: ${built} is missing: run npm run build first`);
    process.exit(1);
  }
}
// The napi-rs way: the binary goes into its platform package, where the generated loader
// (native/index.cjs) finds it when the package has no binary of its own.
copyFileSync(join(nfqueue, 'native', binary), join(nfqueue, 'npm/linux-x64-gnu', binary));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const workspaces = ['@nfq/netlink', '@nfq/nfqueue', '@nfq/nfqueue-linux-x64-gnu', '@nfq/cli'];
try {
  execFileSync('npm', ['pack', '--pack-destination', out, ...workspaces.flatMap((name) => ['-w', name])], { cwd: root, stdio: 'pipe' });
} catch (error) {
  console.error(`pack: npm pack failed:\n${error.stderr}`);
  process.exit(1);
}
for (const file of readdirSync(out).sort()) console.log(join('dist-tarballs', file));

#!/usr/bin/env node
// nf-queue: prints and accepts the packets of an NFQUEUE queue (see `nf-queue --help`).
// `nf-queue stats|doctor|demo ...` run the subcommands in dist/commands/ (see `nf-queue stats --help`).
const SUBCOMMANDS = new Set(['stats', 'doctor', 'demo']);
const [first, ...rest] = process.argv.slice(2);

if (first !== undefined && SUBCOMMANDS.has(first)) {
  const { main } = await import(`../dist/commands/${first}.js`);
  process.exitCode = await main(rest);
} else {
  const { runCli } = await import('../dist/index.js');
  process.exitCode = await runCli(process.argv.slice(2));
}

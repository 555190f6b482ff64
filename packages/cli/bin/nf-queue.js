#!/usr/bin/env node
// nf-queue: prints and accepts the packets of an NFQUEUE queue (see `nf-queue --help`).
import { runCli } from '../dist/index.js';

process.exitCode = await runCli(process.argv.slice(2));

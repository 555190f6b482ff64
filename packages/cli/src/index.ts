/**
 * `@nfq/cli`: the `nf-queue` command, and the pieces it is made of for reuse and tests.
 *
 * @packageDocumentation
 */
export { parseCommandLine, USAGE, type CliOptions, type ParsedCommandLine } from './args.js';
export { formatPacketLine, type PacketSummary } from './format.js';
export { runCli, processEnvironment, EXIT_USAGE, EXIT_OPEN_FAILED, type CliEnvironment } from './main.js';

/**
 * `@nfq/cli`: the `nf-queue` command, and the pieces it is made of for reuse and tests.
 *
 * @packageDocumentation
 */
export { parseCommandLine, splitRule, USAGE, type CliOptions, type CliVerdict, type QueueBalance, type MetricsAddress, type ParsedCommandLine } from './args.js';
export {
  formatPacketJson,
  formatSummary,
  formatStatus,
  type PacketSummary,
  type JsonPacket,
  type GivenVerdict,
  type RunCounters,
  type StatusSnapshot,
  type KernelDrops,
  type SummaryExtras,
} from './format.js';
export { runCli, cliVersion, EXIT_USAGE, EXIT_OPEN_FAILED, STDOUT_CLOSE_DEADLINE_MS } from './main.js';
export { processEnvironment, STDOUT_BUFFER_BYTES, type CliEnvironment, type PacketRecorder } from './environment.js';
export { describeError } from './describe-error.js';
export { queueOptionsOf } from './queue-options.js';
export { STATUS_INTERVAL_MS, CLEAR_LINE } from './status-line.js';
export {
  openPcapWriter,
  pcapGlobalHeader,
  pcapRecordHeader,
  pcapNow,
  PcapWriter,
  PCAP_MAGIC,
  PCAP_SNAPLEN,
  LINKTYPE_RAW,
  PCAP_GLOBAL_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
  PCAP_BUFFER_BYTES,
  PCAP_CLOSE_DEADLINE_MS,
  FIFO_POLL_MS,
  type PcapTimestamp,
  type PcapWriterOptions,
} from './pcap.js';
export { addRule, iptablesCommand, type RuleSpec, type AddedRule } from './rule.js';

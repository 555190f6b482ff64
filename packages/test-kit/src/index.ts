/**
 * The kernel-test kit of the TypeScript packages (private, not published): a network namespace
 * per test with iptables rules inside it, UDP receivers and senders there, and child processes
 * whose output a test can wait for.
 */
export {
  type CommandResult,
  type RunOptions,
  type StartOptions,
  type Started,
  type UntilOptions,
  asNobody,
  killStartedProcesses,
  run,
  runResult,
  sleep,
  startProcess,
  until,
} from './process.js';
export {
  NAMESPACE_PREFIX,
  type TestNamespace,
  boundQueues,
  createNamespace,
  inNamespace,
  iptables,
  listNamespaces,
  queueTable,
  queueUdpTo,
  removeNamespace,
  removeNamespaceSync,
  ruleCounter,
  runIn,
  snmpCounters,
  uniqueNamespaceName,
  waitBound,
  withNamespace,
} from './namespace.js';
export { type UdpReceiver, type UdpSendOptions, numberedPayloads, udpFlood, udpReceiver, udpSend } from './udp.js';

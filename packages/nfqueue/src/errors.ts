/**
 * The errors of `@nfq/nfqueue`. Each has a stable `code` to test against (the errno name, e.g.
 * `'EPERM'`, for errors that come from the kernel) and a message that says what to do.
 */

/** Base class of every error this package throws or reports. */
export class NfqueueError extends Error {
  /** Stable code: an errno name (`'EPERM'`) or an `ERR_*` name. */
  readonly code: string;

  /** Creates an error with `code` and a message. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option of {@link openQueue} is missing, of the wrong type or out of range: nothing was opened. */
export class InvalidOptionError extends NfqueueError {
  /** The option's name, e.g. `'copyRange'`. */
  readonly option: string;

  /** Creates the error for `option`. */
  constructor(option: string, message: string) {
    super('ERR_INVALID_OPTION', `${option}: ${message}`);
    this.option = option;
  }
}

/** Binding the queue needs CAP_NET_ADMIN, which this process lacks (EPERM). */
export class PermissionDeniedError extends NfqueueError {
  /** The errno: 1 (EPERM). */
  readonly errno = 1;

  /** Creates the error with the native side's explanation. */
  constructor(message: string, options?: ErrorOptions) {
    super('EPERM', message, options);
  }
}

/** Another socket (another process) holds the queue (the kernel answers EPERM here too). */
export class QueueAlreadyBoundError extends NfqueueError {
  /** The errno: 1 (EPERM). */
  readonly errno = 1;
  /** The queue number. */
  readonly queue: number | undefined;
  /** Process id of the holder, when /proc tells. */
  readonly ownerPid: number | undefined;
  /** Command name of the holder, when /proc tells. */
  readonly ownerCommand: string | undefined;
  /** Netlink port id of the holder's socket. */
  readonly ownerPortId: number | undefined;

  /** Creates the error with what is known of the holder. */
  constructor(
    message: string,
    owner: { queue?: number; ownerPid?: number; ownerCommand?: string; ownerPortId?: number },
    options?: ErrorOptions,
  ) {
    super('EPERM', message, options);
    this.queue = owner.queue;
    this.ownerPid = owner.ownerPid;
    this.ownerCommand = owner.ownerCommand;
    this.ownerPortId = owner.ownerPortId;
  }
}

/** The kernel lacks what was asked for (EOPNOTSUPP): nfnetlink_queue itself, or a flag. */
export class UnsupportedError extends NfqueueError {
  /** The errno: 95 (EOPNOTSUPP) or 93 (EPROTONOSUPPORT). */
  readonly errno: number;
  /** What is missing, e.g. `'NFQA_CFG_F_CONNTRACK (conntrack)'` or `'nfnetlink_queue'`. */
  readonly feature: string | undefined;

  /** Creates the error. */
  constructor(code: string, errno: number, message: string, feature: string | undefined, options?: ErrorOptions) {
    super(code, message, options);
    this.errno = errno;
    this.feature = feature;
  }
}

/** Any other refusal by the kernel or failed system call; `code` is the errno name. */
export class KernelError extends NfqueueError {
  /** The errno, when there is one. */
  readonly errno: number | undefined;

  /** Creates the error. */
  constructor(code: string, errno: number | undefined, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.errno = errno;
  }
}

/** How a packet got its verdict. */
export type VerdictSource = 'handler' | 'batch' | 'handler-error' | 'timeout' | 'close' | 'cut-by-receiver';

/** A verdict was given to a packet that already has one (each packet gets exactly one). */
export class VerdictAlreadyGivenError extends NfqueueError {
  /** Id of the packet. */
  readonly packetId: number;
  /** How the packet got its first verdict. */
  readonly verdictSource: VerdictSource;

  /** Creates the error for packet `packetId`. */
  constructor(packetId: number, verdictSource: VerdictSource = 'handler') {
    const how: Record<VerdictSource, string> = {
      handler: 'already has a verdict',
      batch: 'was already verdicted by verdictBatch()',
      'handler-error': 'already got the default verdict because its handler threw',
      timeout: 'already got the default verdict when verdictTimeout passed',
      close: 'already got the default verdict when the queue closed',
      'cut-by-receiver': 'already got the default verdict (its message did not fit the receive buffer)',
    };
    super('ERR_VERDICT_ALREADY_GIVEN', `packet ${packetId} ${how[verdictSource]}; each packet takes exactly one verdict`);
    this.packetId = packetId;
    this.verdictSource = verdictSource;
  }
}

/**
 * A verdict is invalid (a value the kernel refuses, a queue number over 65535, a mark that is not a
 * u32, a payload that is not an IP packet of the packet's family, an unknown change): nothing was
 * sent, and the packet still waits for its verdict.
 */
export class InvalidVerdictError extends NfqueueError {
  /** Id of the packet; undefined for a verdict value made without a packet (`Verdict.queue`). */
  readonly packetId: number | undefined;

  /** Creates the error for packet `packetId`. */
  constructor(packetId: number | undefined, message: string) {
    super('ERR_INVALID_VERDICT', `${packetId === undefined ? 'verdict' : `verdict for packet ${packetId}`}: ${message}`);
    this.packetId = packetId;
  }
}

/** The queue was used after `close()`. */
export class QueueClosedError extends NfqueueError {
  /** Creates the error for queue `queueNum`. */
  constructor(queueNum: number) {
    super('ERR_QUEUE_CLOSED', `queue ${queueNum} is closed`);
  }
}

/** Text for whatever a handler threw; never throws itself (a value may have no string form, or a getter that throws). */
function describeThrown(cause: unknown): string {
  try {
    return cause instanceof Error ? String(cause.message) : String(cause);
  } catch {
    return cause instanceof Error ? 'an error whose message cannot be read' : 'a value with no text form';
  }
}

/**
 * A packet handler threw or rejected. A packet without a verdict then got the default verdict
 * (`defaultVerdictGiven`); one that already had its verdict keeps it and nothing else is sent.
 * Reported on 'error'.
 */
export class PacketHandlerError extends NfqueueError {
  /** Id of the packet. */
  readonly packetId: number;
  /** True when the packet got the default verdict; false when it already had its verdict. */
  readonly defaultVerdictGiven: boolean;

  /** Wraps what the handler threw (`cause`); `alreadyVerdicted`: the packet had its verdict before the failure. */
  constructor(packetId: number, defaultVerdict: string, cause: unknown, alreadyVerdicted = false) {
    const reason = describeThrown(cause);
    const outcome = alreadyVerdicted
      ? 'the packet already had its verdict, which stands; nothing else was sent'
      : `it got the default verdict (${defaultVerdict})`;
    super('ERR_PACKET_HANDLER', `the handler failed for packet ${packetId} (${reason}); ${outcome}`, { cause });
    this.packetId = packetId;
    this.defaultVerdictGiven = !alreadyVerdicted;
  }
}

/** What became of the packets of a verdict the kernel refused; the `outcome` of a {@link VerdictRejectedError}. */
export type VerdictRejectionOutcome =
  /** The packets got the default verdict instead (sent once). */
  | 'default-verdict-sent'
  /** The refused message was itself that default verdict: not sent again; the packets wait in the kernel until the queue closes. */
  | 'default-verdict-refused'
  /**
   * EPERM: the process lacks CAP_NET_ADMIN, and the kernel refused every message of the send (it
   * answers only the first one). Nothing was resent; the packets wait in the kernel until the queue
   * closes, when the kernel drops them.
   */
  | 'send-refused'
  /** No such packet was waiting (ENOENT): nothing to resend. */
  | 'not-waiting'
  /** Which packets the message covered is not known (not a message this queue sent): nothing was resent. */
  | 'unknown';

/** Most packet ids a {@link VerdictRejectedError} message lists (`packetIds` has them all). */
const LISTED_IDS = 20;

/** "packet 7", "packets 1, 2, 3", or the first ids and how many more. */
function describePackets(ids: readonly number[]): string {
  if (ids.length === 1) return `packet ${ids[0]}`;
  if (ids.length <= LISTED_IDS) return `packets ${ids.join(', ')}`;
  return `packets ${ids.slice(0, LISTED_IDS).join(', ')} and ${ids.length - LISTED_IDS} more`;
}

/**
 * The kernel refused a verdict message (an NLMSG_ERROR came back), e.g. EINVAL, or ENOENT for an
 * unknown packet id: the packets it covered did not get that verdict, so they got the default
 * verdict instead (once). EPERM means the process lacks CAP_NET_ADMIN: the kernel then refuses the
 * whole send (every verdict message of it, answering only the first), nothing is resent, and one
 * error names every packet of the send. `outcome` says which.
 */
export class VerdictRejectedError extends NfqueueError {
  /** Positive errno. */
  readonly errno: number;
  /** Id the refused message named (the highest id, for a VERDICT_BATCH), when the kernel echoed it. */
  readonly packetId: number | undefined;
  /** The packets the refused messages covered, as far as known (one for a VERDICT message). */
  readonly packetIds: readonly number[];
  /** True when the message the kernel answered was a VERDICT_BATCH. */
  readonly batch: boolean;
  /** Verdict messages this refusal stands for: every message of the send for `'send-refused'`, else 1. */
  readonly refusedMessages: number;
  /** What became of the packets. */
  readonly outcome: VerdictRejectionOutcome;

  /** Creates the error from the kernel's answer and what the queue did about it. */
  constructor(
    errno: number,
    code: string,
    packetId: number | undefined,
    detail: string | undefined,
    rejection: {
      packetIds?: readonly number[];
      batch?: boolean;
      outcome?: VerdictRejectionOutcome;
      defaultVerdict?: string;
      /** For `'send-refused'`: the messages of the send, when the send is still known. */
      refusedMessages?: number;
    } = {},
  ) {
    const packetIds = rejection.packetIds ?? (packetId === undefined ? [] : [packetId]);
    const batch = rejection.batch ?? false;
    const outcome = rejection.outcome ?? (code === 'ENOENT' ? 'not-waiting' : 'unknown');
    const fallback = rejection.defaultVerdict ?? 'default';
    const refusedMessages = rejection.refusedMessages ?? 1;
    const packets = describePackets(packetIds);
    const one = packetIds.length === 1;
    let about: string;
    if (outcome === 'send-refused') {
      const message = packetIds.length === 0 ? 'a verdict' : batch ? `the verdict batch for ${packets}` : `the verdict for ${packets}`;
      if (rejection.refusedMessages === undefined) about = `the send that carried ${message} (its other messages are no longer remembered)`;
      else if (refusedMessages === 1) about = message;
      else about = `a whole send of ${refusedMessages} verdict messages (${packetIds.length > 0 ? packets : 'which packets is not known'})`;
    } else if (outcome === 'default-verdict-refused') about = `the default verdict (${fallback}) for ${packets}`;
    else if (batch) about = packetIds.length > 0 ? `the verdict batch for ${packets}` : packetId === undefined ? 'a verdict batch' : `a verdict batch up to id ${packetId}`;
    else about = packetId === undefined ? 'a verdict' : `the verdict for packet ${packetId}`;
    const hint =
      code === 'EPERM'
        ? ': this process lacks CAP_NET_ADMIN, which nfnetlink checks on every message; keep it when dropping privileges (e.g. with dropPrivileges())'
        : code === 'ENOENT'
          ? batch
            ? ': no packet up to that id is waiting (already verdicted, or the queue was rebound)'
            : ': no packet with that id is waiting (already verdicted, or the queue was rebound)'
          : '';
    const stay = packetIds.length === 0 ? 'its packets stay' : one ? 'the packet stays' : 'the packets stay';
    const them = one ? 'it' : 'them';
    let result: string;
    if (outcome === 'default-verdict-sent') {
      result = `; ${one ? 'it' : 'they'} got the default verdict (${fallback}) instead`;
    } else if (outcome === 'default-verdict-refused') {
      result = `; it was not sent again: ${one ? 'the packet waits' : 'the packets wait'} in the kernel until the queue closes`;
    } else if (outcome === 'send-refused') {
      const unremembered = rejection.refusedMessages === undefined;
      result =
        '; nothing was resent, since without the capability every verdict is refused: ' +
        `${unremembered ? 'its packets stay' : stay} queued in the kernel until the queue closes, when the kernel drops ${unremembered ? 'them' : them}`;
    } else if (outcome === 'unknown') {
      result = batch ? '; which packets it covered is not known, so nothing was resent' : '; nothing was resent';
    } else {
      result = '';
    }
    super(code, `the kernel refused ${about} with ${code}${hint}${detail ? ` (${detail})` : ''}${result}`);
    this.errno = errno;
    this.packetId = packetId;
    this.packetIds = packetIds;
    this.batch = batch;
    this.refusedMessages = refusedMessages;
    this.outcome = outcome;
  }
}

/** What the native binding throws: an Error with the errno name as `code`, the cause as `kind`. */
interface NativeFailure extends Error {
  code?: string;
  kind?: string;
  errno?: number;
  queue?: number;
  ownerPid?: number;
  ownerCommand?: string;
  ownerPortId?: number;
  feature?: string;
  option?: string;
  user?: string;
}

/** Turns an error thrown by the native binding into this package's typed error. @internal */
export function fromNativeError(error: unknown): Error {
  if (!(error instanceof Error)) return new KernelError('EIO', undefined, String(error));
  const failure = error as NativeFailure;
  const options = { cause: error };
  const code = failure.code ?? 'EIO';
  switch (failure.kind) {
    case 'PermissionDenied':
      return new PermissionDeniedError(failure.message, options);
    case 'AlreadyBound':
      return new QueueAlreadyBoundError(failure.message, failure, options);
    case 'Unsupported':
      return new UnsupportedError(code, failure.errno ?? 95, failure.message, failure.feature, options);
    case 'InvalidArgument':
      return new InvalidOptionError(failure.option ?? 'options', failure.message);
    case 'Closed':
      return new NfqueueError('ERR_QUEUE_CLOSED', failure.message, options);
    case 'UserNotFound':
      return new UnknownUserError(failure.user ?? '', failure.message, options);
    case 'NamespaceNotFound':
    case 'NamespacePermissionDenied':
      return new NamespaceError(code, failure.errno, failure.message, options);
    default:
      return new KernelError(code, failure.errno, failure.message, options);
  }
}

/** `dropPrivileges` (or `--user`) named a user that does not exist: nothing was changed. */
export class UnknownUserError extends NfqueueError {
  /** The user name asked for. */
  readonly user: string;

  /** Creates the error for `user`. */
  constructor(user: string, message: string, options?: ErrorOptions) {
    super('ERR_UNKNOWN_USER', message, options);
    this.user = user;
  }
}

/**
 * A network namespace could not be entered: it does not exist (`code` 'ENOENT'), the path is not
 * a network namespace ('EINVAL'), or entering it needs CAP_SYS_ADMIN, which the process lacks
 * ('EPERM'). The message names the namespace. A kind of {@link KernelError}.
 */
export class NamespaceError extends KernelError {}

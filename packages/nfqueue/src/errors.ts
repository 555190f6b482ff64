/** A verdict was given to a packet that already has one (each packet gets exactly one). */
export class VerdictAlreadyGivenError extends Error {
  /** Stable code to test against. */
  readonly code = 'ERR_VERDICT_ALREADY_GIVEN';
  /** Id of the packet. */
  readonly packetId: number;

  /** Creates the error for packet `packetId`. */
  constructor(packetId: number) {
    super(`packet ${packetId} already has a verdict; each packet takes exactly one`);
    this.name = 'VerdictAlreadyGivenError';
    this.packetId = packetId;
  }
}

/** The queue was used after `close()`. */
export class QueueClosedError extends Error {
  /** Stable code to test against. */
  readonly code = 'ERR_QUEUE_CLOSED';

  /** Creates the error for queue `queueNum`. */
  constructor(queueNum: number) {
    super(`queue ${queueNum} is closed`);
    this.name = 'QueueClosedError';
  }
}

/** The kernel refused a verdict (an NLMSG_ERROR came back), e.g. ENOENT for an unknown packet id. */
export class VerdictRejectedError extends Error {
  /** Errno name, e.g. 'ENOENT', 'EPERM'. */
  readonly code: string;
  /** Positive errno. */
  readonly errno: number;
  /** Id of the packet the refused verdict named, when the kernel echoed the verdict. */
  readonly packetId: number | undefined;

  /** Creates the error from the kernel's answer. */
  constructor(errno: number, code: string, packetId: number | undefined, detail: string | undefined) {
    const about = packetId === undefined ? 'a verdict' : `the verdict for packet ${packetId}`;
    const hint =
      code === 'EPERM'
        ? ': the process lost CAP_NET_ADMIN, which nfnetlink checks on every message'
        : code === 'ENOENT'
          ? ': no packet with that id is waiting (already verdicted, or the queue was rebound)'
          : '';
    super(`the kernel refused ${about} with ${code}${hint}${detail ? ` (${detail})` : ''}`);
    this.name = 'VerdictRejectedError';
    this.errno = errno;
    this.code = code;
    this.packetId = packetId;
  }
}

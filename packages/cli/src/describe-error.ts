/** How `nf-queue` words an error of opening or running, in one line. */
import { NfqueueError, QueueAlreadyBoundError } from '@nfq/nfqueue';

/** One line for an error of opening or running: the library's message says what to do. */
export function describeError(error: unknown): string {
  if (error instanceof QueueAlreadyBoundError && error.ownerPid !== undefined && !error.message.includes(String(error.ownerPid))) {
    return `nf-queue: ${error.message} (pid ${error.ownerPid}${error.ownerCommand ? `, ${error.ownerCommand}` : ''})`;
  }
  if (error instanceof Error) {
    // openQueueRange prefixes its own name; the user ran nf-queue.
    const message = error.message.replace(/^openQueueRange: /, '');
    const code = (error as { code?: unknown }).code;
    const known = error instanceof NfqueueError || typeof code !== 'string' || message.includes(code);
    return `nf-queue: ${message}${known ? '' : ` (${code as string})`}`.split('\n')[0]!;
  }
  return `nf-queue: ${String(error)}`;
}

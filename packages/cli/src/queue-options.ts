/** The library options a command line asks for. */
import type { QueueOptions } from '@nfq/nfqueue';
import type { CliOptions } from './args.js';

/** The queue options of `options` (the library's defaults where the command line said nothing). */
export function queueOptionsOf(options: CliOptions): Omit<QueueOptions, 'queue'> {
  const queueOptions: Omit<QueueOptions, 'queue'> = {
    copyMode: options.copyMode,
    gso: options.gso,
    // Every packet the command takes gets its verdict at once; at close the rest get the default now.
    drainTimeout: 0,
  };
  // A policy's failures get --verdict.
  if (options.handler !== undefined) queueOptions.defaultVerdict = options.verdict;
  if (options.copyRange !== undefined) queueOptions.copyRange = options.copyRange;
  if (options.maxLen !== undefined) queueOptions.maxLen = options.maxLen;
  if (options.failOpen) queueOptions.failOpen = true;
  if (options.receiveBufferSize !== undefined) queueOptions.receiveBufferSize = options.receiveBufferSize;
  if (options.noEnobufs) queueOptions.noEnobufs = true;
  if (options.readerThread) queueOptions.readerThread = true;
  if (options.nice !== undefined) queueOptions.readerNice = options.nice;
  if (options.cpus !== undefined) queueOptions.readerCpus = options.cpus;
  if (options.netns !== undefined) queueOptions.netns = options.netns;
  return queueOptions;
}

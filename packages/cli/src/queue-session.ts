/** `nf-queue` serving one queue on the main thread. */
import { type KernelQueueStats, PacketHandlerError, type Queue } from '@nfq/nfqueue';
import type { CliOptions } from './args.js';
import { describeError } from './describe-error.js';
import type { CliEnvironment, PacketRecorder } from './environment.js';
import type { KernelDrops } from './format.js';
import { type Policy, firstHandlerErrorLine, verdictServer } from './policy.js';
import { type ServeSettings, packetOutput, verdictGiver } from './serve.js';
import { type Served, type Session, sumKernelDrops } from './session.js';

/**
 * Serves one queue on this thread: `settings`' verdict for every packet, or `policy`'s
 * (`--handler`), up to `--count`, then `stop('count')`; its line to `print`, its bytes to `recorder`.
 */
export function serveQueue(
  queue: Queue,
  options: CliOptions,
  settings: ServeSettings,
  print: (line: string) => void,
  recorder: PacketRecorder | undefined,
  stop: (reason: string) => void,
  environment: CliEnvironment,
  policy?: Policy,
): Session {
  let verdicted = 0;
  let handlerErrorShown = false;
  queue.on('error', (error) => {
    if (error instanceof PacketHandlerError) {
      // A broken policy fails on every packet: say it once; the summary counts them all.
      if (handlerErrorShown) return;
      handlerErrorShown = true;
      environment.printError(firstHandlerErrorLine(describeError(error)));
      return;
    }
    environment.printError(describeError(error));
  });
  const counted = (): void => {
    verdicted++;
    if (options.count !== undefined && verdicted >= options.count) stop('count');
  };
  const serve = verdictServer(policy, verdictGiver(settings), counted);
  const given = policy === undefined ? settings : undefined; // a policy decides after the line is made
  queue.on('packet', (packet) => {
    if (options.count !== undefined && verdicted >= options.count) return undefined; // the default verdict at close
    const line = packetOutput(packet, settings, given);
    if (line !== undefined) print(line);
    recorder?.write(packet.payload, packet.capLen, packet.timestamp);
    return serve(packet);
  });
  const kernelRows = (): KernelQueueStats[] => {
    const row = queue.kernelStats();
    return row === undefined ? [] : [row];
  };
  const served: Served = {
    counters: async () => queue.stats(),
    metrics: async () => [queue.metrics()],
    kernelDrops() {
      const drops = sumKernelDrops(kernelRows());
      return drops === undefined ? undefined : drops.queueFull + drops.socketFull;
    },
    stopOutput: () => undefined, // printLine and the recorder stop by themselves
    outputDropped: () => ({ lines: 0, records: 0 }),
    async close() {
      await queue.close();
      // After close, the queue's last line, read as it unbound: it counts the drops of the shutdown too.
      let kernelDrops: KernelDrops | undefined;
      try {
        kernelDrops = sumKernelDrops(kernelRows());
      } catch {
        kernelDrops = undefined;
      }
      return { counters: queue.stats(), kernelDrops };
    },
  };
  return {
    served,
    async dropPrivileges(user) {
      environment.dropPrivileges(user);
    },
    ...(policy && {
      async reloadPolicy() {
        try {
          await policy.reload();
          handlerErrorShown = false; // the new policy's first error is shown too
          environment.printError(`nf-queue: reloaded the policy ${policy.name}`);
        } catch (error) {
          environment.printError(`nf-queue: ${(error as Error).message}; the running policy stays`);
        }
      },
    }),
  };
}

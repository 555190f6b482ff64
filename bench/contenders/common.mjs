// Shared by the Node contenders: arguments, and loading @nfq/nfqueue from its build output.
//
//   node contenders/<name>.mjs QUEUE COUNT [--drop]
//
// Each binds QUEUE in the namespace it runs in (the harness starts it with `ip netns exec`),
// gives COUNT packets their verdict and exits.

const distUrl = new URL('../../packages/nfqueue/dist/index.js', import.meta.url);

/** Parses `QUEUE COUNT [--drop]`. */
export function parseArgs(argv = process.argv.slice(2)) {
  const [queueArg, countArg, ...rest] = argv;
  const queue = Number(queueArg);
  const count = Number(countArg);
  if (!Number.isInteger(queue) || !Number.isInteger(count) || count < 1) {
    console.error('usage: node <contender>.mjs QUEUE COUNT [--drop]');
    process.exit(2);
  }
  return { queue, count, drop: rest.includes('--drop') };
}

/** Opens the queue with the options the Rust example uses (copy mode packet, GSO, no ENOBUFS). */
export async function open(queue) {
  const { openQueue } = await import(distUrl.href).catch((error) => {
    console.error(`Cannot load ${distUrl.pathname}: build it first (npm run build).`);
    throw error;
  });
  return openQueue({ queue, copyMode: 'packet', gso: true, noEnobufs: true });
}

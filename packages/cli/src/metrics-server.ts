/** `nf-queue --metrics HOST:PORT`: the served queues' metrics over HTTP, in Prometheus' text format. */
import { type Server, createServer } from 'node:http';
import { type PrometheusQueue, formatPrometheus } from '@nfq/nfqueue';
import type { MetricsAddress } from './args.js';

/** The content type of the text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A listening metrics server. */
export interface MetricsServer {
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** `HOST:PORT` as written on the command line (IPv6 in brackets). */
export const formatAddress = ({ host, port }: MetricsAddress): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * Serves `GET /metrics` (and HEAD) at `address` with the text of `metrics()`, read at each scrape;
 * other paths answer 404, other methods 405. Rejects when the address cannot be bound (in use,
 * not an address of this host), with the address in the message.
 */
export async function startMetricsServer(address: MetricsAddress, metrics: () => Promise<PrometheusQueue[]>): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('nf-queue serves its metrics at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    metrics().then(
      (queues) => response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(request.method === 'HEAD' ? undefined : formatPrometheus(queues)),
      (error: unknown) => response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot serve metrics on ${formatAddress(address)}: ${error.message}`, { cause: error })),
    );
    server.listen(address.port, address.host, () => resolve());
  });
  server.unref(); // the run ends when it is told to, not when the scrapers leave
  return {
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

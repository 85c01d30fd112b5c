import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the health server reports. */
export interface HealthSources {
  /** Why the operator is not ready, or undefined when it is. */
  notReady: () => string | undefined;
  registry: Registry;
}

/** A listening health server. */
export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves /healthz (the process answers), /readyz (200 only when notReady() says nothing,
 * else 503 with the reason) and /metrics (Prometheus text) over plain HTTP, as a kubelet
 * probe and a Prometheus scrape expect.
 */
export async function serveHealth(
  sources: HealthSources,
  host: string,
  port: number,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200).end('ok\n');
    if (path === '/readyz') {
      const reason = sources.notReady();
      res.writeHead(reason === undefined ? 200 : 503, { 'content-type': 'text/plain' });
      return void res.end(reason === undefined ? 'ok\n' : `${reason}\n`);
    }
    if (path === '/metrics') {
      sources.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': sources.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await listen(server, host, port);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

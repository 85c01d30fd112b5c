import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the health endpoints report. */
export interface HealthSources {
  /** Why the process is not ready, or undefined when it is. */
  notReady: () => string | undefined;
  /** The metrics served at /metrics. */
  registry: Registry;
}

/** A listening health server. */
export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** The paths healthHandler answers. */
export const HEALTH_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/**
 * Answers GET and HEAD of /healthz (200 while the process answers), /readyz (200 only when
 * notReady() says nothing, else 503 with the reason) and /metrics (Prometheus text), as a
 * kubelet probe and a Prometheus scrape expect; another method there is 405, any other path
 * 404. Both programs answer them with this handler: the operator on a port of its own
 * (serveHealth), the webhook on its HTTPS port beside the admission endpoints.
 */
export function healthHandler(sources: HealthSources): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (!HEALTH_PATHS.includes(path)) return void res.writeHead(404).end();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    }
    if (path === '/metrics') return sendMetrics(sources.registry, res);
    const reason = path === '/readyz' ? sources.notReady() : undefined;
    res.writeHead(reason === undefined ? 200 : 503, {
      'content-type': 'text/plain; charset=utf-8',
    });
    res.end(`${reason ?? 'ok'}\n`);
  };
}

function sendMetrics(registry: Registry, res: Parameters<RequestListener>[1]): void {
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
    () => res.writeHead(500).end(),
  );
}

/** Serves healthHandler over plain HTTP on host:port (port 0: a free one, as `port` says). */
export async function serveHealth(
  sources: HealthSources,
  host: string,
  port: number,
): Promise<HealthServer> {
  const server = createServer(healthHandler(sources));
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

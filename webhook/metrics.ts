import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** The two admission endpoints, as the `endpoint` label names them. */
export type WebhookEndpointName = 'validate-genome' | 'mutate-pod';

/**
 * How a request ended: `allowed` and `refused` are admission answers; `invalid` is a body the
 * webhook could not read as an AdmissionReview (HTTP 400 or 413); `busy` a body refused for
 * want of room under the in-flight cap (HTTP 503); `error` an internal failure (HTTP 500). The
 * API server fails closed on the last three.
 */
export type WebhookRequestResult = 'allowed' | 'refused' | 'invalid' | 'busy' | 'error';

/** The webhook's Prometheus metrics, on a registry of their own. */
export interface WebhookMetrics {
  registry: Registry;
  /** Admission requests received, by endpoint and result. */
  requests: Counter<'endpoint' | 'result'>;
  /** Request body bytes held now, all requests together (bounded by the in-flight cap). */
  inFlightBytes: Gauge;
}

/**
 * Creates the webhook's metrics (and Node's process metrics) on a fresh registry; the in-flight
 * gauge reads `heldBytes` when scraped.
 */
export function createWebhookMetrics(heldBytes: () => number = () => 0): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'genome_webhook_' });
  const requests = new Counter({
    name: 'genome_webhook_requests_total',
    help: 'Admission requests received, by endpoint (validate-genome, mutate-pod) and result (allowed, refused, invalid, busy, error).',
    labelNames: ['endpoint', 'result'],
    registers: [registry],
  });
  // Every series exists from the start at 0, so a rate() or an absent-series alert works at once.
  for (const endpoint of ['validate-genome', 'mutate-pod'] satisfies WebhookEndpointName[])
    for (const result of [
      'allowed',
      'refused',
      'invalid',
      'busy',
      'error',
    ] satisfies WebhookRequestResult[])
      requests.inc({ endpoint, result }, 0);
  const inFlightBytes = new Gauge({
    name: 'genome_webhook_inflight_body_bytes',
    help: 'Admission request body bytes held now, all requests together.',
    registers: [registry],
    collect() {
      this.set(heldBytes());
    },
  });
  return { registry, requests, inFlightBytes };
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PRODUCT_VERSION } from '../core/version.ts';

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
  /** Seconds from a request's arrival to its answer, by endpoint. */
  admissionDuration: Histogram<'endpoint'>;
}

/**
 * The admission duration's bucket edges, in seconds. The API server gives up on a webhook at
 * its timeoutSeconds (the chart's 5, at most 30) and, failing closed, refuses the request:
 * 5, 10 and 30 are edges, so the share of answers that came too late is read off a bucket.
 */
export const ADMISSION_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * Creates the webhook's metrics on a fresh registry, with Node's process metrics under their
 * standard names (process_*, nodejs_*) and under the older genome_webhook_ prefix (kept for
 * what reads them); the in-flight gauge reads `heldBytes` when scraped.
 */
export function createWebhookMetrics(heldBytes: () => number = () => 0): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  collectDefaultMetrics({ register: registry, prefix: 'genome_webhook_' });
  buildInfo(registry);
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
  const admissionDuration = new Histogram({
    name: 'genome_webhook_admission_duration_seconds',
    help: "Seconds from an admission request's arrival to its answer, by endpoint (validate-genome, mutate-pod); the API server refuses (fails closed) past its timeout (5 s in the chart).",
    labelNames: ['endpoint'],
    buckets: [...ADMISSION_DURATION_BUCKETS],
    registers: [registry],
  });
  return { registry, requests, inFlightBytes, admissionDuration };
}

/** genome_webhook_build_info: 1, labelled with the product's version and Node's. */
function buildInfo(registry: Registry): void {
  new Gauge({
    name: 'genome_webhook_build_info',
    help: "1, labelled with the webhook's version and the Node.js version it runs on.",
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: PRODUCT_VERSION, node_version: process.version }, 1);
}

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { errorMessage, type LogFields, type Logger } from '../core/log.ts';
import { SignatureCache, type VerifyPolicy } from '../core/verify.ts';
import { parseAdmissionReview, reply, type AdmissionRequest } from './admission.ts';
import type { InjectionSettings } from '../core/plan-injection.ts';
import { MUTATE_POD_PATH, VALIDATE_GENOME_PATH } from '../core/webhook-config.ts';
import { decidePodMutation, type PublishedCaches } from './mutate-pod.ts';
import { decideGenomeAdmission, type AdmissionTrust } from './validate-genome.ts';
import { healthHandler } from '../kube/health-server.ts';
import {
  ByteBudget,
  DEFAULT_BODY_LIMITS,
  MAX_CONTAINERS,
  readBoundedBody,
  refuseBody,
  type BodyLimits,
} from './body.ts';
import {
  createWebhookMetrics,
  type WebhookEndpointName,
  type WebhookRequestResult,
} from './metrics.ts';

/** What the webhook app is built from; cmd/webhook.ts supplies real parts, tests may supply others. */
export interface WebhookDeps {
  /**
   * The trusted keys, the trust policies and the namespaces' labels, kept current by watches
   * (kube/trust-view.ts); synced() is false while any of them is not.
   */
  trust: AdmissionTrust;
  /** True while the serving certificate is present and within its validity. */
  certificateValid: () => boolean;
  /** Its maxBytes bounds a genome's canonical size. */
  policy: VerifyPolicy;
  /**
   * The signature results the Genome admissions share (default: a new SignatureCache of
   * WEBHOOK_SIGNATURE_RESULTS): a document admitted again costs no verification.
   */
  signatures?: SignatureCache;
  /** The clock key windows and maxAge are judged by (default Date.now). */
  now?: () => number;
  log: Logger;
  /** Bounds on request bodies, per endpoint and in flight (default DEFAULT_BODY_LIMITS). */
  bodies?: Partial<BodyLimits>;
  /**
   * The pod mutation: the Genome and published-ConfigMap caches and what to inject; without it
   * /mutate-pod is 404.
   */
  pods?: PublishedCaches & { injection: InjectionSettings };
}

/**
 * Most signature results the webhook keeps (each ~300 bytes with its key: ~3 MB at most),
 * cleared whole when full. A retried or re-applied Genome is then judged without Ed25519.
 */
export const WEBHOOK_SIGNATURE_RESULTS = 10_000;

/**
 * Builds the webhook's request handler. POST /validate-genome answers AdmissionReviews; a body
 * that is not JSON or not an admission.k8s.io/v1 AdmissionReview gets HTTP 400, one over the
 * endpoint's limit 413, one that finds no room under the in-flight cap 503 (webhook/body.ts;
 * the API server fails closed on each). /healthz, /readyz and /metrics are answered as the
 * operator answers them (kube/health-server.ts): /readyz says whether the trusted keys, the
 * trust policies and the namespaces' labels (and the pod mutation's caches) are loaded and
 * current, and the certificate is valid; /metrics serves the request counter
 * (genome_webhook_requests_total{endpoint,result}), the admission duration histogram
 * (genome_webhook_admission_duration_seconds{endpoint}), build info and Node's process metrics.
 *
 * The admission path is a small handler of its own, not a framework's router: it is the hot
 * path (docs/adr/0002-admission-hot-path.md).
 */
export function createApp(deps: WebhookDeps): RequestListener {
  const limits = { ...DEFAULT_BODY_LIMITS, ...deps.bodies };
  const budget = new ByteBudget(limits.inFlightBytes);
  const metrics = createWebhookMetrics(() => budget.held());
  const health = healthHandler({
    notReady: () => readinessProblems(deps).join('; ') || undefined,
    registry: metrics.registry,
  });
  const signatures = deps.signatures ?? new SignatureCache(WEBHOOK_SIGNATURE_RESULTS);
  const handling = (endpoint: WebhookEndpointName): Handling => ({
    deps,
    signatures,
    now: deps.now ?? Date.now,
    count: (result) => metrics.requests.inc({ endpoint, result }),
    read: (req, res) =>
      readBoundedBody(
        req,
        res,
        endpoint === 'validate-genome'
          ? { bytes: limits.validateGenome, containers: MAX_CONTAINERS.validateGenome }
          : { bytes: limits.mutatePod, containers: MAX_CONTAINERS.mutatePod },
        { budget, waitMs: limits.waitMs },
      ),
  });
  const validating = handling('validate-genome');
  const mutating = handling('mutate-pod');
  const timed = (endpoint: WebhookEndpointName, res: ServerResponse) =>
    timeAnswer(res, metrics.admissionDuration.startTimer({ endpoint }));
  return (req, res) => {
    // The API server adds ?timeout=5s to the path.
    const path = req.url?.split('?', 1)[0];
    if (path === VALIDATE_GENOME_PATH && req.method === 'POST') {
      timed('validate-genome', res);
      admit(validating, req, res).catch((err: unknown) =>
        failed(deps.log, res, err, validating.count),
      );
    } else if (path === MUTATE_POD_PATH && req.method === 'POST' && deps.pods) {
      timed('mutate-pod', res);
      mutate(mutating, deps.pods, req, res).catch((err: unknown) =>
        failed(deps.log, res, err, mutating.count),
      );
    } else health(req, res);
  };
}

/** Calls `end` once, when the answer is sent or the connection closes before it. */
function timeAnswer(res: ServerResponse, end: () => void): void {
  let ended = false;
  const once = () => {
    if (!ended) end();
    ended = true;
  };
  res.once('finish', once).once('close', once);
}

function readinessProblems(deps: WebhookDeps): string[] {
  const problems: string[] = [];
  if (!deps.trust.synced())
    problems.push('trusted keys, trust policies or namespaces not loaded yet, or not current');
  if (!deps.certificateValid()) problems.push('serving certificate missing or expired');
  if (deps.pods && !deps.pods.genomes.synced()) problems.push('Genomes not loaded yet');
  if (deps.pods && !deps.pods.configMaps.synced())
    problems.push('published ConfigMaps not loaded yet');
  return problems;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Counts one request's result. */
type Count = (result: WebhookRequestResult) => void;

/** What an admission handler works with: the app's parts and its endpoint's counter. */
interface Handling {
  deps: WebhookDeps;
  signatures: SignatureCache;
  now: () => number;
  count: Count;
  /** Reads a body within the endpoint's limit and the in-flight cap (webhook/body.ts). */
  read: (req: IncomingMessage, res: ServerResponse) => ReturnType<typeof readBoundedBody>;
}

/** A bug must never take the process down: answer 500 (the API server fails closed) and log. */
function failed(log: Logger, res: ServerResponse, err: unknown, count: Count): void {
  count('error');
  log.error('admission failed', { err: errorMessage(err) });
  if (res.headersSent) res.destroy();
  else sendJson(res, 500, { error: 'internal error; the request was not admitted' });
}

/**
 * Reads and parses the AdmissionReview of a request; answers 413 or 400 itself and returns
 * undefined when the body is too large or not a valid review.
 */
async function readReview(
  { deps, count, read }: Handling,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const body = await read(req, res);
  if (!Buffer.isBuffer(body)) {
    count(body.status === 503 ? 'busy' : 'invalid');
    deps.log.warn('admission body refused', { status: body.status, error: body.message });
    refuseBody(res, body);
    return undefined;
  }
  const request = parseReview(body);
  if (typeof request !== 'string') return request;
  count('invalid');
  deps.log.warn('bad admission request', { error: request });
  sendJson(res, 400, { error: request });
  return undefined;
}

async function admit(handling: Handling, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { deps, count, signatures, now } = handling;
  const started = process.hrtime.bigint();
  const request = await readReview(handling, req, res);
  if (request === undefined) return;
  // Never an answer from stale keys or policies: while not current, a refusal of its own.
  const decision = decideGenomeAdmission(request, deps.trust, {
    maxBytes: deps.policy.maxBytes,
    signatures,
    now: now(),
  });
  const { response, verdict } = decision;
  logDecision(deps.log, response.allowed, 'genome', {
    namespace: request.namespace,
    name: request.name,
    operation: request.operation,
    dryRun: request.dryRun === true,
    uid: request.uid,
    genomeId: verdict?.ok ? verdict.genomeId : verdict?.genomeId,
    code: verdict !== undefined && !verdict.ok ? verdict.code : undefined,
    message: response.status?.message,
    warnings: response.warnings,
    skipped: decision.skipped,
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  });
  count(response.allowed ? 'allowed' : 'refused');
  sendJson(res, 200, reply(response));
}

/** An admission's line: a refusal at warn (kept when the level is warn), an admission at info. */
function logDecision(log: Logger, allowed: boolean, what: 'genome' | 'pod', fields: LogFields) {
  if (allowed) log.info(`${what} admitted`, fields);
  else log.warn(`${what} refused`, fields);
}

async function mutate(
  handling: Handling,
  pods: NonNullable<WebhookDeps['pods']>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { deps, count } = handling;
  const started = process.hrtime.bigint();
  const request = await readReview(handling, req, res);
  if (request === undefined) return;
  const decision = decidePodMutation(request, pods, pods.injection, {
    trustCurrent: deps.trust.synced(),
  });
  const { response } = decision;
  logDecision(deps.log, response.allowed, 'pod', {
    namespace: request.namespace,
    name: request.name,
    dryRun: request.dryRun === true,
    uid: request.uid,
    genomeId: decision.genomeId,
    code: decision.code,
    patched: response.patch !== undefined,
    message: response.status?.message,
    skipped: decision.skipped,
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  });
  count(response.allowed ? 'allowed' : 'refused');
  sendJson(res, 200, reply(response));
}

/**
 * Parses the body. JSON.parse is safe here: the API server writes AdmissionReviews with Go's
 * encoder, which never emits duplicate keys or lone surrogates, and verify refuses numbers
 * outside the exact integer range whatever parser read them.
 */
function parseReview(body: Buffer): AdmissionRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return `request body is not JSON: ${(err as Error).message}`;
  }
  return parseAdmissionReview(value);
}

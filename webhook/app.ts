import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type Response,
} from 'express';
import type { Logger } from '../core/log.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { VerifyPolicy } from '../core/verify.ts';
import { parseAdmissionReview, reply } from './admission.ts';
import { decideGenomeAdmission } from './validate-genome.ts';

/** Where the webhook gets trusted keys: an in-memory view kept current by a watch. */
export interface KeySource {
  keys(): readonly TrustedKey[];
  synced(): boolean;
}

/** What the webhook app is built from; main.ts supplies real parts, tests may supply others. */
export interface WebhookDeps {
  trust: KeySource;
  /** True while the serving certificate is present and within its validity. */
  certificateValid: () => boolean;
  policy: VerifyPolicy;
  log: Logger;
  /** Largest request body accepted (an UPDATE carries the object twice). */
  maxBodyBytes: number;
}

/** Path of the Genome validating webhook. */
export const VALIDATE_GENOME_PATH = '/validate-genome';

/**
 * Builds the webhook's HTTP app: POST /validate-genome answers AdmissionReviews, /healthz says
 * the process is alive, /readyz says whether trusted keys are loaded and the certificate is
 * valid. A body that is not an admission.k8s.io/v1 AdmissionReview gets HTTP 400, an
 * oversized one 413; the API server then fails closed.
 */
export function createApp(deps: WebhookDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.post(
    VALIDATE_GENOME_PATH,
    express.json({ limit: deps.maxBodyBytes, strict: true, type: () => true }),
    (req: Request, res: Response) => validateGenome(deps, req, res),
  );
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const problems = readinessProblems(deps);
    res.status(problems.length === 0 ? 200 : 503).type('text/plain');
    res.send(
      problems.length === 0
        ? `ok: ${deps.trust.keys().length} trusted key(s)`
        : problems.join('; '),
    );
  });
  app.use(errorHandler(deps.log));
  return app;
}

function readinessProblems(deps: WebhookDeps): string[] {
  const problems: string[] = [];
  if (!deps.trust.synced()) problems.push('trusted keys not loaded yet');
  if (!deps.certificateValid()) problems.push('serving certificate missing or expired');
  return problems;
}

function validateGenome(deps: WebhookDeps, req: Request, res: Response): void {
  const started = process.hrtime.bigint();
  const request = parseAdmissionReview(req.body);
  if (typeof request === 'string') {
    deps.log.warn('bad admission request', { error: request });
    res.status(400).json({ error: request });
    return;
  }
  const decision = decideGenomeAdmission(request, deps.trust.keys(), deps.policy);
  const { response, verdict } = decision;
  deps.log.info(response.allowed ? 'genome admitted' : 'genome refused', {
    namespace: request.namespace,
    name: request.name,
    operation: request.operation,
    dryRun: request.dryRun === true,
    uid: request.uid,
    genomeId: verdict?.ok ? verdict.genomeId : verdict?.genomeId,
    code: verdict !== undefined && !verdict.ok ? verdict.code : undefined,
    message: response.status?.message,
    skipped: decision.skipped,
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  });
  res.json(reply(response));
}

function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: { status?: number; type?: string; message?: string }, _req, res, _next) => {
    const status = err.status ?? 500;
    const message =
      err.type === 'entity.too.large'
        ? 'request body is larger than the webhook accepts'
        : status === 400
          ? `request body is not JSON: ${err.message ?? ''}`
          : 'internal error';
    if (status >= 500) log.error('webhook request failed', { err: err.message });
    else log.warn('bad admission request', { status, error: message });
    res.status(status).json({ error: message });
  };
}

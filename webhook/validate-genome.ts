import { ALLOW_DOWNGRADE_ANNOTATION } from '../core/api.ts';
import { refuse, type Refusal } from '../core/codes.ts';
import { GENOME_GROUP, GENOME_KIND } from '../core/crd.ts';
import { displayValue } from '../core/display.ts';
import { validateGenome, type GenomeResult } from '../core/genome.ts';
import { compareSemver } from '../core/semver.ts';
import { examineGenome, type SignatureCache, type Verdict, type Verified } from '../core/verify.ts';
import type { TrustView } from '../kube/trust-view.ts';
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from './admission.ts';
import { judgeCached } from './judgement-cache.ts';
import { policiesForLabels } from './namespace-policies.ts';
import { admissionWarnings, boundWarnings } from './warnings.ts';

/** What an admission reads of the trust view (kube/trust-view.ts): keys, policies, labels. */
export type AdmissionTrust = Pick<TrustView, 'keys' | 'policies' | 'namespaceLabels' | 'synced'>;

/** How a genome is examined and when it is judged. */
export interface AdmissionOptions {
  /** Largest canonical genome accepted, in bytes. */
  maxBytes: number;
  /** The webhook's signature results: a document admitted again costs no verification. */
  signatures: SignatureCache;
  /** Epoch milliseconds: key windows and maxAge are judged at this instant. */
  now: number;
}

/** The decision on one admission request, and what to log about it. */
export interface GenomeAdmission {
  response: AdmissionResponse;
  verdict?: Verdict;
  /** Why the request was allowed without a verdict, if it was. */
  skipped?: string;
}

interface GenomeObject {
  metadata?: { annotations?: Record<string, string> };
  spec?: { genome?: unknown };
}

/** What the steps of a decision share. */
interface Subject {
  request: AdmissionRequest;
  object: GenomeObject;
  old: GenomeObject | undefined;
  trust: AdmissionTrust;
  options: AdmissionOptions;
  /** validateGenome's answer for spec.genome, once a step has asked: each request walks it once. */
  valid?: GenomeResult;
}

/** validateGenome of the new spec.genome, computed at most once per request. */
function validated(s: Subject): GenomeResult {
  s.valid ??= validateGenome(s.object.spec?.genome);
  return s.valid;
}

/** One step: a final decision, or undefined to go on. */
type Step = (subject: Subject) => GenomeAdmission | undefined;

const deny = (
  s: Subject,
  refusal: Refusal,
  verdict?: Verdict,
  warnings: string[] = [],
): GenomeAdmission => ({
  response: denied(s.request.uid, refusal, 'spec.genome', warnings),
  ...(verdict && { verdict }),
});

const onlyGenomes: Step = (s) => {
  const { group, kind } = s.request.kind;
  if (group === GENOME_GROUP && kind === GENOME_KIND) return undefined;
  const message = `this webhook validates ${GENOME_KIND}.${GENOME_GROUP} only, not ${kind}.${group}`;
  return { response: denied(s.request.uid, refuse('WEBHOOK_MISCONFIGURED', message)) };
};

const onlyWrites: Step = (s) =>
  s.request.operation === 'CREATE' || s.request.operation === 'UPDATE'
    ? undefined
    : { response: allowed(s.request.uid), skipped: `operation ${s.request.operation}` };

const hasGenome: Step = (s) =>
  s.object.spec?.genome === undefined
    ? deny(s, refuse('GENOME_MISSING', 'the Genome has no spec.genome'))
    : undefined;

/**
 * Labels, annotations, finalizers: the operator reports whether the stored genome still
 * verifies. The new genome is validated first, so that comparing it cannot be made to throw
 * (JSON.stringify overflows the stack on deeply nested input).
 */
const genomeUnchanged: Step = (s) => {
  const before = s.old?.spec?.genome;
  const after = s.object.spec?.genome;
  if (before === undefined || !validated(s).ok || !sameJson(before, after)) {
    return undefined;
  }
  return { response: allowed(s.request.uid), skipped: 'spec.genome unchanged' };
};

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false; // the stored object is beyond comparing: treat it as changed and verify
  }
}

const trustCurrent: Step = (s) =>
  !s.trust.synced()
    ? staleTrust(s)
    : s.trust.namespaceLabels(s.request.namespace ?? '') === undefined
      ? deny(
          s,
          refuse(
            'TRUST_KEYS_STALE',
            `the labels of namespace ${displayValue(s.request.namespace ?? '')} are not known yet (its watch has not delivered it), and the trust policies select namespaces by their labels; create the Genome again in a moment`,
          ),
        )
      : undefined;

const staleTrust = (s: Subject): GenomeAdmission =>
  deny(
    s,
    refuse(
      'TRUST_KEYS_STALE',
      "the trusted keys, the trust policies or the namespaces' labels are not current (not loaded yet, or a watch has been down longer than its bound), so a key or policy removed meanwhile may still count",
    ),
  );

/**
 * The genome's own checks with every signature verified once (core/verify.ts examineGenome),
 * then the trust decision under the policies that match its namespace's labels
 * (core/trust-policy.ts judge), ordered as the operator orders them (operator/verify-cache.ts):
 * no trusted key at all is TRUST_KEYS_MISSING after the schema and the size. Then the version.
 */
const verified: Step = (s) => {
  const judged = judgedUnderPolicies(s);
  if ('response' in judged) return judged;
  const { verdict, warnings } = judged;
  const downgrade = checkDowngrade(verdict.genome.version, s.old, s.object);
  if (typeof downgrade === 'object') return deny(s, downgrade, verdict, warnings);
  const all = downgrade === undefined ? warnings : boundWarnings([...warnings, downgrade]);
  return { response: allowed(s.request.uid, all), verdict };
};

/** The positive verdict and its warnings, or the admission that refuses. */
function judgedUnderPolicies(
  s: Subject,
): { verdict: Verified; warnings: string[] } | GenomeAdmission {
  const { maxBytes, signatures, now } = s.options;
  const examined = examineGenome(validated(s), { maxBytes, signatures });
  const keys = s.trust.keys();
  const early = !examined.ok && examined.code === 'GENOME_TOO_LARGE';
  if (!early && keys.length === 0 && examined.genomeId !== undefined) {
    const refusal = refuse('TRUST_KEYS_MISSING', 'no trusted keys are configured');
    return deny(s, refusal, { ok: false, ...refusal, genomeId: examined.genomeId });
  }
  if (!examined.ok) return deny(s, examined, examined);
  const { genome, genomeId, facts } = examined;
  // Known: trustCurrent refused a namespace the watch has not delivered yet.
  const namespaceLabels = s.trust.namespaceLabels(s.request.namespace ?? '') ?? {};
  const policies = policiesForLabels(s.trust.policies(), namespaceLabels);
  const judgement = judgeCached(facts, { namespaceLabels, policies, keys, now });
  const warnings = admissionWarnings(judgement);
  if (judgement.ok) {
    const verdict: Verified = { ok: true, genome, genomeId, signers: judgement.signers, warnings };
    return { verdict, warnings };
  }
  const { code, message, field } = judgement;
  const refusal: Refusal = { code, message, ...(field !== undefined && { field }) };
  return deny(s, refusal, { ok: false, ...refusal, genomeId }, warnings);
}

const STEPS: readonly Step[] = [
  onlyGenomes,
  onlyWrites,
  hasGenome,
  genomeUnchanged,
  trustCurrent,
  verified,
];

/**
 * Decides a CREATE or UPDATE of a Genome: the genome under spec.genome must pass its own
 * checks and hold under every matching Enforce GenomeTrustPolicy (the same examineGenome and
 * `judge` as the operator and the CLI); a Warn policy that fails admits with a short warning;
 * an UPDATE may not lower its version unless the object carries
 * ALLOW_DOWNGRADE_ANNOTATION="true". An UPDATE that leaves spec.genome as it was is allowed
 * without judging again (the operator reports whether it still holds). While the view is not
 * current, nothing is judged: TRUST_KEYS_STALE.
 */
export function decideGenomeAdmission(
  request: AdmissionRequest,
  trust: AdmissionTrust,
  options: AdmissionOptions,
): GenomeAdmission {
  const subject: Subject = {
    request,
    object: (request.object ?? {}) as GenomeObject,
    old:
      request.operation === 'UPDATE' ? (request.oldObject as GenomeObject | undefined) : undefined,
    trust,
    options,
  };
  for (const step of STEPS) {
    const decision = step(subject);
    if (decision !== undefined) return decision;
  }
  // Unreachable: `verified` always decides. Refuse rather than admit if that ever changes.
  return deny(subject, refuse('GENOME_VERIFY_ERROR', 'no decision was reached'));
}

/** A refusal for an unannounced downgrade, a warning for an announced one, else undefined. */
function checkDowngrade(
  version: string,
  old: GenomeObject | undefined,
  object: GenomeObject,
): Refusal | string | undefined {
  const oldVersion = (old?.spec?.genome as { version?: unknown } | undefined)?.version;
  if (typeof oldVersion !== 'string' || compareSemver(version, oldVersion) !== -1) return undefined;
  if (object.metadata?.annotations?.[ALLOW_DOWNGRADE_ANNOTATION] === 'true') {
    return `version lowered from ${oldVersion} to ${version}, allowed by ${ALLOW_DOWNGRADE_ANNOTATION}`;
  }
  return refuse(
    'GENOME_DOWNGRADE',
    `version ${version} is lower than the stored ${oldVersion}; to roll back on purpose, set the annotation ${ALLOW_DOWNGRADE_ANNOTATION}: "true"`,
    'version',
  );
}

import { ALLOW_DOWNGRADE_ANNOTATION } from '../core/api.ts';
import { refuse, type Refusal } from '../core/codes.ts';
import { GENOME_GROUP, GENOME_KIND } from '../core/crd.ts';
import { validateGenome, type GenomeResult } from '../core/genome.ts';
import { compareSemver } from '../core/semver.ts';
import type { TrustedKey } from '../core/trust.ts';
import { verifyValidated, type Verdict, type VerifyPolicy } from '../core/verify.ts';
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from './admission.ts';

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
  trustedKeys: readonly TrustedKey[];
  policy: VerifyPolicy;
  /** False while the trusted keys are not current: nothing is verified against them. */
  trustCurrent: boolean;
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

const deny = (s: Subject, refusal: Refusal, verdict?: Verdict): GenomeAdmission => ({
  response: denied(s.request.uid, refusal, 'spec.genome'),
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
  s.trustCurrent
    ? undefined
    : deny(
        s,
        refuse(
          'TRUST_KEYS_STALE',
          'the trusted keys are not current (not loaded yet, or their watch has been down longer than its bound), so a key removed meanwhile may still be counted',
        ),
      );

const verified: Step = (s) => {
  // Exactly verify(spec.genome): validateGenome, then the checks (core/verify.ts).
  const verdict = verifyValidated(validated(s), s.trustedKeys, s.policy);
  if (!verdict.ok) return deny(s, verdict, verdict);
  const downgrade = checkDowngrade(verdict.genome.version, s.old, s.object);
  if (typeof downgrade === 'object') return deny(s, downgrade, verdict);
  const warnings = downgrade === undefined ? verdict.warnings : [...verdict.warnings, downgrade];
  return { response: allowed(s.request.uid, warnings), verdict };
};

const STEPS: readonly Step[] = [
  onlyGenomes,
  onlyWrites,
  hasGenome,
  genomeUnchanged,
  trustCurrent,
  verified,
];

/**
 * Decides a CREATE or UPDATE of a Genome: the genome under spec.genome must verify against
 * the trusted keys (the same `verify` as the CLI), and an UPDATE may not lower its version
 * unless the object carries ALLOW_DOWNGRADE_ANNOTATION="true". An UPDATE that leaves
 * spec.genome as it was is allowed without re-verifying.
 */
export function decideGenomeAdmission(
  request: AdmissionRequest,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy,
  { trustCurrent }: { trustCurrent: boolean },
): GenomeAdmission {
  const subject: Subject = {
    request,
    object: (request.object ?? {}) as GenomeObject,
    old:
      request.operation === 'UPDATE' ? (request.oldObject as GenomeObject | undefined) : undefined,
    trustedKeys,
    policy,
    trustCurrent,
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

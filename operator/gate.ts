/**
 * The readiness gate genome.mathison.io/verified, decided (pure) from the caches: a pod's
 * condition is True only while the genome it mounts is a verified genome of its Genome, and
 * False, with the code as its reason, as soon as it is not. The operator writes only this
 * condition (a strategic merge patch of pods/status), never Ready: the kubelet computes Ready
 * from the containers and the gates.
 */
import {
  GENOME_ID_ANNOTATION,
  REASON_VERIFIED,
  shortGenomeId,
  VERIFIED_READINESS_GATE,
} from '../core/api.ts';
import { REFUSAL_CODES, type RefusalCode } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';
import { BOOT_CHECK_CONTAINER, GENOME_VOLUME } from '../core/plan-injection.ts';
import type { PodCondition } from '../kube/operator-client.ts';
import type { CachedPod, CachedPodCondition } from './cached.ts';
import type { VerdictSummary } from './verdicts.ts';

/** The gate's condition as the operator writes it. */
export interface GateCondition extends PodCondition {
  type: typeof VERIFIED_READINESS_GATE;
  reason: typeof REASON_VERIFIED | RefusalCode;
}

/** What the gates of one Genome's pods depend on. */
export interface GateInput {
  /** `namespace/name` of the Genome, for messages. */
  genomeKey: string;
  /** The Genome's verdict (the production rule applied), or undefined when it is gone. */
  verdict: VerdictSummary | undefined;
  /**
   * The verdicts, under the current keys, of the genomes its ConfigMaps hold, by ConfigMap
   * name: the current one and older ones that pods still mount (during a rollout).
   */
  published: ReadonlyMap<string, VerdictSummary>;
  now: Date;
}

/** One pod whose condition must be written. */
export interface GateWrite {
  namespace: string;
  name: string;
  uid: string;
  condition: GateCondition;
}

type Desired = Pick<GateCondition, 'status' | 'reason' | 'message'>;

/** Whether the operator keeps this pod's gate: it declares it, and it is neither done nor going. */
export function hasGate(pod: CachedPod): boolean {
  const declared = (pod.spec?.readinessGates ?? []).some(
    (g) => g.conditionType === VERIFIED_READINESS_GATE,
  );
  const phase = pod.status?.phase;
  const over = phase === 'Succeeded' || phase === 'Failed';
  return declared && !over && pod.metadata?.deletionTimestamp === undefined;
}

/** The name of the ConfigMap the pod mounts its genome from, if any. */
export function mountedConfigMap(pod: CachedPod): string | undefined {
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === GENOME_VOLUME);
  const name = volume?.configMap?.name;
  return name === undefined || name === '' ? undefined : name;
}

/** What a gate check reads: the pod, the gate's input, and the pod's mounted ConfigMap. */
interface GateContext {
  pod: CachedPod;
  input: GateInput;
  which: string;
  configMap: string | undefined;
}

/** One reason the gate stays closed, or undefined: the checks run in order. */
type GateCheck = (context: GateContext) => Desired | undefined;

const genomeVerified: GateCheck = ({ input: { verdict }, which }) => {
  if (verdict === undefined) return closed('GENOME_MISSING', `${which} does not exist`);
  if (!verdict.ok)
    return closed(verdict.code, `${which} is not verified: ${verdict.code}: ${verdict.message}`);
  return undefined;
};

const mountsAGenome: GateCheck = ({ configMap }) =>
  configMap === undefined
    ? closed('GENOME_MISSING', `the pod mounts no genome (volume ${GENOME_VOLUME})`)
    : undefined;

const injectionComplete: GateCheck = ({ pod }) => {
  const injection = pod.spec?.injection;
  if (injection?.complete === true) return undefined;
  return closed(
    'POD_INJECTION_INCOMPLETE',
    injection?.problem ?? "the pod's injection was never checked",
  );
};

const mountedVerified: GateCheck = ({ input, which, configMap = '' }) => {
  const mounted = input.published.get(configMap);
  if (mounted === undefined)
    return closed(
      'GENOME_NOT_VERIFIED',
      `ConfigMap ${displayText(configMap)} is not a published ConfigMap of ${which}`,
    );
  if (!mounted.ok)
    return closed(
      mounted.code,
      `the genome in ConfigMap ${displayText(configMap)} is not verified: ${mounted.message}`,
    );
  return undefined;
};

const admittedWithIt: GateCheck = ({ pod, input, configMap = '' }) => {
  const mounted = input.published.get(configMap);
  const admitted = pod.metadata?.annotations?.[GENOME_ID_ANNOTATION];
  if (!mounted?.ok || admitted === mounted.genomeId) return undefined;
  return closed(
    'GENOME_ID_MISMATCH',
    `the pod was admitted with genome ${displayText(admitted ?? '(none)')}, ConfigMap ${displayText(configMap)} holds ${mounted.genomeId}`,
  );
};

/** Why the pod's boot check refused, as the gate and the Genome's Event say it. */
export interface BootCheckFailure {
  code: RefusalCode;
  message: string;
}

/**
 * The boot check's refusal, when its last run exited non-zero: the code and reason of the JSON
 * line it wrote to its termination message (cmd/genome-boot-check.ts; for a refused build
 * manifest they name the container, its image, the path and both short hashes), escaped. A
 * code that is not one of ours, or no line at all (killed, out of memory), is
 * GENOME_VERIFY_ERROR with the exit code.
 */
export function bootCheckFailure(pod: CachedPod): BootCheckFailure | undefined {
  const last = pod.status?.bootCheck;
  if (last?.exitCode === undefined || last.exitCode === 0) return undefined;
  const line = parsedLine(last.message);
  const known = typeof line.code === 'string' && Object.hasOwn(REFUSAL_CODES, line.code);
  const code = known ? (line.code as RefusalCode) : 'GENOME_VERIFY_ERROR';
  // The boot check's own reason may end as ours does: said once.
  const reason =
    typeof line.reason === 'string'
      ? `: ${line.reason.replace(/; the application does not start$/, '')}`
      : '';
  return {
    code,
    message: displayMessage(
      `the boot check (init container ${BOOT_CHECK_CONTAINER}) exited ${last.exitCode}${known ? ` with ${code}` : ''}${reason}; the application does not start`,
    ),
  };
}

function parsedLine(message: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(message ?? '');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const bootCheckPassed: GateCheck = ({ pod }) => {
  const failure = bootCheckFailure(pod);
  return failure === undefined ? undefined : closed(failure.code, failure.message);
};

const GATE_CHECKS: readonly GateCheck[] = [
  genomeVerified,
  mountsAGenome,
  injectionComplete,
  mountedVerified,
  admittedWithIt,
  bootCheckPassed,
];

/** The condition the pod's gate should carry now (without its transition time). */
export function desiredGate(pod: CachedPod, input: GateInput): Desired {
  const context: GateContext = {
    pod,
    input,
    which: `Genome ${displayText(input.genomeKey)}`,
    configMap: mountedConfigMap(pod),
  };
  for (const check of GATE_CHECKS) {
    const refusal = check(context);
    if (refusal !== undefined) return refusal;
  }
  const mounted = input.published.get(context.configMap ?? '') as VerdictSummary & { ok: true };
  return {
    status: 'True',
    reason: REASON_VERIFIED,
    message: `genome ${shortGenomeId(mounted.genomeId)} verified by ${mounted.signers.join(', ')}`,
  };
}

function closed(reason: RefusalCode, message: string): Desired {
  return { status: 'False', reason, message: displayMessage(message) };
}

/** The gate writes a Genome's pods need: only pods whose condition differs from the desired one. */
export function gateWrites(pods: readonly CachedPod[], input: GateInput): GateWrite[] {
  return pods.map((pod) => gateWrite(pod, input)).filter((w) => w !== undefined);
}

/** The write one pod needs, or undefined. */
function gateWrite(pod: CachedPod, input: GateInput): GateWrite | undefined {
  if (!hasGate(pod)) return undefined;
  const want = desiredGate(pod, input);
  const have = currentGate(pod);
  if (have === undefined || have.status !== want.status) return write(pod, want, input.now);
  if (have.reason === want.reason && have.message === want.message) return undefined;
  // Same status, new words: the transition time stays.
  return write(pod, want, have.lastTransitionTime ? new Date(have.lastTransitionTime) : input.now);
}

/** The gate's condition the pod carries now, if any. */
function currentGate(pod: CachedPod): CachedPodCondition | undefined {
  return (pod.status?.conditions ?? []).find((c) => c.type === VERIFIED_READINESS_GATE);
}

function write(pod: CachedPod, want: Desired, since: Date): GateWrite {
  const { namespace = '', name = '', uid = '' } = pod.metadata ?? {};
  const condition: GateCondition = {
    type: VERIFIED_READINESS_GATE,
    ...want,
    lastTransitionTime: timestamp(since),
  };
  return { namespace, name, uid, condition };
}

/** RFC 3339 with whole seconds, as the API server stores condition times. */
function timestamp(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * The write that keeps a pod's gate closed while the trusted keys are stale (their watch has
 * been down past its bound, so a revoked key may still be counted): no gate opens then. A gate
 * already True is left as it is: the keys it was opened under were current, and closing every
 * gate of the cluster on a passing API server outage would be an outage of its own.
 */
export function staleGate(pod: CachedPod, now: Date): GateWrite | undefined {
  if (!hasGate(pod)) return undefined;
  const have = currentGate(pod);
  if (have?.status === 'True') return undefined;
  const want = closed(
    'TRUST_KEYS_STALE',
    'the trusted keys are stale (their watch has been down), so no gate opens until they are current again',
  );
  if (have?.status === 'False' && have.reason === want.reason) return undefined;
  const since = have?.status === 'False' && have.lastTransitionTime;
  return write(pod, want, since ? new Date(since) : now);
}

/**
 * The write that closes the gate of a pod that left the operator's watch with its gate still
 * declared: someone removed its genome.mathison.io/genome label. Nothing keeps its genome
 * verified any more, so it must not keep a True it was given.
 */
export function releasedGate(pod: CachedPod, now: Date): GateWrite | undefined {
  if (!hasGate(pod)) return undefined;
  const want = closed(
    'GENOME_MISSING',
    'the pod no longer names a Genome (its label genome.mathison.io/genome was removed), so nothing keeps its genome verified',
  );
  const have = currentGate(pod);
  if (have?.status === 'False' && have.reason === want.reason) return undefined;
  return write(pod, want, now);
}

/**
 * The policy controller: the status of each GenomeTrustPolicy (key: its name): whether it can
 * decide (`Ready`, with why not), the generation it was read at, and how many Genomes it matches
 * and of those how many it holds for (`verified`) and not (`refused`: for a Warn or Audit
 * policy, those it would refuse if enforced). From the policy, the keys (policyReadiness)
 * and the verdicts the Genome controller published; it writes only the status, and only when it
 * differs from the stored one.
 *
 * The counts follow the verdicts at most once a second: a key revocation changes a thousand
 * verdicts, and each policy's status is written once for them, not a thousand times.
 */
import { isDeepStrictEqual } from 'node:util';
import { CONDITION_READY } from '../../core/api.ts';
import { setCondition } from '../../core/conditions.ts';
import { displayMessage } from '../../core/display.ts';
import type { Logger } from '../../core/log.ts';
import type { TrustedKey } from '../../core/trust.ts';
import {
  POLICY_MODES,
  policyReadiness,
  type TrustPolicy,
  type TrustPolicyStatus,
} from '../../core/trust-policy.ts';
import type { TrustView } from '../../kube/trust-view.ts';
import type { OperatorClient } from '../../kube/operator-client.ts';
import { atStart, watchKeys, type ControllerSpec } from '../runtime/controller.ts';
import { DONE, terminalIfInvalid, type Result } from '../runtime/result.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { Verdicts } from '../verdicts.ts';

/** How often, at most, a change of verdicts brings the policies' counts up to date. */
export const POLICY_COUNT_INTERVAL_MS = 1_000;

/** What the policy controller reads and writes. */
export interface PolicyControllerDeps {
  trust: Pick<TrustView, 'keys' | 'policies' | 'synced' | 'onChange' | 'onPolicyStatusChange'>;
  verdicts: Pick<Verdicts, 'list' | 'onChange'>;
  client: Pick<OperatorClient, 'applyPolicyStatus'>;
  metrics?: Pick<OperatorMetrics, 'policyGenomes'>;
  log: Logger;
  now?: () => Date;
  /** How often, at most, verdict changes are counted (default POLICY_COUNT_INTERVAL_MS). */
  countIntervalMs?: number;
}

/** The policy controller. */
export function policyController(deps: PolicyControllerDeps): ControllerSpec {
  const every = () => deps.trust.policies().map((p) => p.name);
  const everyPolicy = (tell: (key: string) => void) => () => every().forEach(tell);
  return {
    name: 'policy',
    workers: 2,
    watches: [
      atStart(every),
      watchKeys({ onChange: (tell) => deps.trust.onChange(everyPolicy(tell)) }),
      watchKeys({ onChange: (tell) => deps.trust.onPolicyStatusChange(everyPolicy(tell)) }),
      watchKeys({
        onChange: (tell) =>
          throttled(
            deps.verdicts,
            deps.countIntervalMs ?? POLICY_COUNT_INTERVAL_MS,
            everyPolicy(tell),
          ),
      }),
    ],
    reconcile: (name) => reconcilePolicy(deps, name),
  };
}

/** Calls `then` at most once per `intervalMs` after verdicts changed; returns an unsubscriber. */
function throttled(
  verdicts: Pick<Verdicts, 'onChange'>,
  intervalMs: number,
  then: () => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const stop = verdicts.onChange(() => {
    timer ??= setTimeout(() => {
      timer = undefined;
      then();
    }, intervalMs).unref();
  });
  return () => {
    clearTimeout(timer);
    stop();
  };
}

async function reconcilePolicy(deps: PolicyControllerDeps, name: string): Promise<Result> {
  // Stale keys or policies: what it would say cannot be told (the Genomes wait too).
  if (!deps.trust.synced()) return DONE;
  const policy = deps.trust.policies().find((p) => p.name === name);
  const status = policy === undefined ? undefined : desiredStatus(deps, policy);
  countMetric(deps, name, policy, status);
  if (policy === undefined || status === undefined) return DONE; // deleted: nothing to write to
  if (sameStatus(policy.status, status)) return DONE;
  await terminalIfInvalid(() => deps.client.applyPolicyStatus(name, status));
  const ready = status.conditions?.[0];
  deps.log.info('trust policy status written', {
    policy: name,
    ready: ready?.status,
    reason: ready?.reason,
    matched: status.matched,
    verified: status.verified,
    refused: status.refused,
  });
  return DONE;
}

/** genome_trust_policy_genomes for the policy `name` as it is now (none when deleted). */
function countMetric(
  deps: PolicyControllerDeps,
  name: string,
  policy: TrustPolicy | undefined,
  status: TrustPolicyStatus | undefined,
) {
  const gauge = deps.metrics?.policyGenomes;
  if (gauge === undefined) return;
  for (const mode of POLICY_MODES)
    for (const result of ['held', 'not_held']) gauge.remove({ policy: name, mode, result });
  if (policy === undefined || status === undefined) return;
  const { verified = 0, refused = 0 } = status;
  gauge.set({ policy: name, mode: policy.spec.mode, result: 'held' }, verified);
  gauge.set({ policy: name, mode: policy.spec.mode, result: 'not_held' }, refused);
}

/** The status the policy should have now. */
export function desiredStatus(
  deps: {
    trust: Pick<TrustView, 'keys'>;
    verdicts: Pick<Verdicts, 'list'>;
    now?: () => Date;
  },
  policy: TrustPolicy,
): TrustPolicyStatus {
  const generation = policy.generation ?? 0;
  const condition = readyCondition(policy, deps.trust.keys());
  const now = (deps.now ?? (() => new Date()))();
  const conditions = setCondition(
    policy.status?.conditions ?? [],
    { type: CONDITION_READY, observedGeneration: generation, ...condition },
    now,
  );
  // Held or not by this policy, whatever its mode: a Warn or Audit policy's `refused` counts
  // the Genomes it would refuse if it were enforced.
  const results = deps.verdicts
    .list()
    .flatMap((v) => v.policies?.filter((p) => p.policy === policy.name) ?? []);
  const verified = results.filter((r) => r.held).length;
  return {
    observedGeneration: generation,
    conditions,
    matched: results.length,
    verified,
    refused: results.length - verified,
  };
}

/**
 * The policy's Ready condition. While no key is trusted at all, a policy that names no trust
 * Secret is Ready, with the reason NoTrustedKeys: every Genome is refused TRUST_KEYS_MISSING
 * before any policy is judged, so the policy is not what stands in the way (and the chart's
 * default policy on a fresh install, which Helm's --wait waits on, is not stuck NotReady until
 * the user trusts a key). A policy naming a Secret that holds no key is not Ready.
 */
function readyCondition(policy: TrustPolicy, keys: readonly TrustedKey[]) {
  const readiness = policyReadiness(policy, keys);
  if (readiness.ready)
    return {
      status: 'True' as const,
      reason: 'Ready',
      message: 'the trust Secrets it names hold usable keys',
    };
  const namesSecrets = (policy.spec.keys?.secretRefs ?? []).length > 0;
  if (keys.length === 0 && !namesSecrets && policy.problem === undefined)
    return {
      status: 'True' as const,
      reason: 'NoTrustedKeys',
      message:
        'no key is trusted in the cluster yet: every Genome is refused TRUST_KEYS_MISSING until a trust Secret holds one; then this policy judges them',
    };
  return {
    status: 'False' as const,
    reason: 'POLICY_NOT_READY',
    message: displayMessage(readiness.message),
  };
}

/** Whether the stored status says what `desired` says (transition times aside). */
function sameStatus(stored: TrustPolicyStatus | undefined, desired: TrustPolicyStatus): boolean {
  if (stored === undefined) return false;
  const strip = (s: TrustPolicyStatus) => ({
    ...s,
    conditions: (s.conditions ?? []).map(({ lastTransitionTime: _, ...c }) => c),
  });
  return isDeepStrictEqual(strip(stored), strip(desired));
}

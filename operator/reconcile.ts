import { GENOME_API_VERSION, GENOME_KIND } from '../core/api.ts';
import { GENOME_LABEL, type GenomeResource } from '../core/api.ts';
import { withFields, type Logger } from '../core/log.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { OperatorWrites } from '../kube/operator-writes.ts';
import { decide, type DecideInput, type Plan } from './decide.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { OwnedConfigMaps } from './owned-config-maps.ts';
import { keySetVersion, type VerifyCache } from './verify-cache.ts';

/** A cached pod, as far as its volumes go. */
export interface CachedPod {
  metadata?: { namespace?: string; labels?: Record<string, string> };
  spec?: { volumes?: { configMap?: { name?: string } }[] };
}

/** What reconcile reads (caches) and writes (the API server). */
export interface ReconcileDeps {
  genome(key: string): GenomeResource | undefined;
  pods(): readonly CachedPod[];
  keys(): readonly TrustedKey[];
  owned: OwnedConfigMaps;
  verifier: VerifyCache;
  writes: OperatorWrites;
  events: EventRecorder;
  production: boolean;
  metrics: OperatorMetrics;
  log: Logger;
  now(): Date;
}

/**
 * Reconciles one Genome (key `namespace/name`): gather from the caches, decide (pure), act.
 * A Genome that is gone needs nothing: garbage collection removes what it owned.
 */
export async function reconcile(deps: ReconcileDeps, key: string): Promise<void> {
  const genome = deps.genome(key);
  if (genome?.metadata.uid === undefined) return;
  const input = gather(deps, genome, genome.metadata.uid);
  const plan = decide(input);
  const log = withFields(deps.log, {
    namespace: genome.metadata.namespace,
    name: genome.metadata.name,
    genomeId: plan.status.genomeId,
  });
  await act(deps, genome, plan, log);
}

function gather(deps: ReconcileDeps, genome: GenomeResource, uid: string): DecideInput {
  const keys = deps.keys();
  const { generation = 0 } = genome.metadata;
  const { verdict, fresh } = deps.verifier.verdict(
    { uid, generation },
    genome.spec.genome,
    keys,
    keySetVersion(keys),
  );
  if (fresh) deps.metrics.verifications.inc({ result: verdict.ok ? 'Verified' : verdict.code });
  return {
    genome,
    verdict,
    keys,
    production: deps.production,
    owned: deps.owned.ownedBy(uid),
    mounted: mountedBy(deps.pods(), genome),
    now: deps.now(),
  };
}

/** Names of the ConfigMaps that the Genome's pods mount. */
function mountedBy(pods: readonly CachedPod[], genome: GenomeResource): Set<string> {
  const { namespace, name } = genome.metadata;
  const names = pods
    .filter(
      (p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[GENOME_LABEL] === name,
    )
    .flatMap((p) => p.spec?.volumes ?? [])
    .map((v) => v.configMap?.name ?? '');
  return new Set(names.filter((n) => n !== ''));
}

/** Applies the plan's ConfigMap (deleting one of that name with other content first). */
async function publish(deps: ReconcileDeps, ownerUid: string, plan: Plan): Promise<void> {
  if (plan.apply === undefined) return;
  const { name, namespace } = plan.apply.metadata;
  if (plan.replace) await deps.writes.deleteConfigMap(namespace, name);
  const uid = await deps.writes.applyConfigMap(plan.apply);
  deps.owned.noteApplied(ownerUid, { ...plan.apply, metadata: { ...plan.apply.metadata, uid } });
}

/**
 * Carries out a plan: the ConfigMap first (so status never says Ready for a ConfigMap that
 * failed to apply: a failure throws before status is written, and the queue retries), then
 * clean-up, status and Events.
 */
async function act(
  deps: ReconcileDeps,
  genome: GenomeResource,
  plan: Plan,
  log: Logger,
): Promise<void> {
  const { namespace = '', name: genomeName = '', uid = '' } = genome.metadata;
  await publish(deps, uid, plan);
  for (const name of plan.remove) {
    await deps.writes.deleteConfigMap(namespace, name);
    deps.owned.noteDeleted(uid, namespace, name);
    log.info('removed an old ConfigMap', { configMap: name });
  }
  if (plan.writeStatus) {
    await deps.writes.applyStatus(namespace, genomeName, plan.status);
    const ready = plan.status.conditions?.find((c) => c.type === 'Ready');
    log.info('status written', { ready: ready?.status, reason: ready?.reason });
  }
  const { resourceVersion } = genome.metadata;
  const metadata = { name: genomeName, namespace, uid, resourceVersion };
  const involved = { apiVersion: GENOME_API_VERSION, kind: GENOME_KIND, metadata };
  for (const event of plan.events) await deps.events.record(involved, event);
}

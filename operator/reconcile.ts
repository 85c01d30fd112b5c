import { GENOME_API_VERSION, GENOME_CONFIGMAP_KEY, GENOME_KIND } from '../core/api.ts';
import type { GenomeResource } from '../core/api.ts';
import { errorMessage, withFields, type Logger } from '../core/log.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { Verdict, Verified } from '../core/verify.ts';
import { refuse } from '../core/codes.ts';
import { displayText } from '../core/display.ts';
import { configMapDataDigest, configMapName, legacyConfigMapName } from '../core/render.ts';
import { isNotFound, isUidMismatch, statusCode } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { OperatorClient } from '../kube/operator-client.ts';
import { decide, productionVerdict, type DecideInput, type Plan } from './decide.ts';
import { gateWrites, hasGate, mountedConfigMap, type GatedPod, type GateWrite } from './gate.ts';
import type { OperatorMetrics } from './metrics.ts';
import type { OwnedConfigMaps } from './owned-config-maps.ts';
import { keySetVersion, type VerifyCache } from './verify-cache.ts';

/** A cached labelled pod: its volumes (for clean-up) and its gate. */
export type CachedPod = GatedPod;

/** What reconcile reads (caches) and writes (the API server). */
export interface ReconcileDeps {
  genome(key: string): GenomeResource | undefined;
  /** The pods that name the Genome `namespace/name`. */
  pods(key: string): readonly CachedPod[];
  keys(): readonly TrustedKey[];
  owned: OwnedConfigMaps;
  verifier: VerifyCache;
  writes: OperatorClient;
  events: EventRecorder;
  production: boolean;
  metrics: OperatorMetrics;
  log: Logger;
  now(): Date;
  /** Reconciles the key again soon, behind the keys queued now. */
  requeue(key: string): void;
  /** Keys whose clean-up was put off by a status write (see cleanUp). */
  cleanUpDue: Set<string>;
}

/** How many pods' gates are written at once. */
const GATE_WRITERS = 32;

/**
 * Reconciles one Genome (key `namespace/name`): gather from the caches, decide (pure), act.
 * A Genome that is gone needs its pods' gates closed; garbage collection removes what it owned.
 * Resolves true when the Genome was converged: nothing needed writing.
 */
export async function reconcile(deps: ReconcileDeps, key: string): Promise<boolean> {
  const genome = deps.genome(key);
  if (genome?.metadata.uid === undefined) {
    deps.cleanUpDue.delete(key); // garbage collection removes what it owned
    const gates = gateWrites(deps.pods(key), {
      genomeKey: key,
      verdict: undefined,
      published: new Map(),
      now: deps.now(),
    });
    await writeGates(deps, gates, withFields(deps.log, { key }));
    return gates.length === 0;
  }
  // Read once per reconcile: the Genome's pods and the version of the key set.
  const pods = deps.pods(key);
  const keys = deps.keys();
  const keyVersion = keySetVersion(keys);
  const input = gather(deps, { genome, pods, keys, keyVersion });
  const plan = decide(input);
  const log = withFields(deps.log, {
    namespace: genome.metadata.namespace,
    name: genome.metadata.name,
    genomeId: plan.status.genomeId,
  });
  return act(deps, { readFailures: [], genome, key, pods, keyVersion, input, plan }, log);
}

/** What reconcile read from the caches before gathering. */
interface Read {
  genome: GenomeResource;
  pods: readonly CachedPod[];
  keys: readonly TrustedKey[];
  keyVersion: string;
}

function gather(deps: ReconcileDeps, { genome, pods, keys, keyVersion }: Read): DecideInput {
  const { generation = 0, uid = '' } = genome.metadata;
  const { verdict, fresh } = deps.verifier.verdict(
    { uid, generation },
    genome.spec.genome,
    keys,
    keyVersion,
  );
  if (fresh) deps.metrics.verifications.inc({ result: verdict.ok ? 'Verified' : verdict.code });
  return {
    genome,
    verdict,
    keys,
    production: deps.production,
    owned: deps.owned.ownedBy(uid, genome.metadata.namespace ?? ''),
    mounted: mountedBy(pods),
    earlier: new Map(),
    lastWrittenStatus: undefined,
    now: deps.now(),
  };
}

/** Names of the ConfigMaps that the Genome's pods mount. */
function mountedBy(pods: readonly CachedPod[]): Set<string> {
  const names = pods.flatMap((p) => p.spec?.volumes ?? []).map((v) => v.configMap?.name ?? '');
  return new Set(names.filter((n) => n !== ''));
}

/**
 * The verdicts of the genomes a verified Genome publishes, by ConfigMap name. The current one
 * is the Genome's own verdict, once its ConfigMap is in place with the content it should have
 * (a ConfigMap replaced by hand opens no gate until it is put back). An older one that gated
 * pods still mount (a rollout under way) is verified again, from its content (read from the API
 * server when the verdict under these keys is not cached), and counts only as the Genome's
 * own: owned, immutable, named after the genome it holds, and a genome of the same name as the
 * current one.
 */
async function publishedVerdicts(deps: ReconcileDeps, decided: Decided) {
  const { input, plan } = decided;
  const published = new Map<string, Verdict>();
  const current = plan.status.configMapName;
  if (!plan.verdict.ok || current === undefined) return published;
  if (plan.inPlace) published.set(current, plan.verdict);
  for (const configMap of earlierMounted(decided, current)) {
    const verdict = await earlierVerdict(deps, configMap, decided);
    if (verdict !== undefined)
      published.set(configMap.name, ownEarlier(input, plan.verdict, configMap.name, verdict));
  }
  return published;
}

/** The Genome's immutable ConfigMaps other than the current one that gated pods mount. */
function earlierMounted({ genome, pods, input }: Decided, current: string) {
  const mounted = new Set(pods.filter(hasGate).map(mountedConfigMap));
  const namespace = genome.metadata.namespace ?? '';
  return input.owned
    .filter((c) => c.immutable === true)
    .map((c) => ({ namespace, name: c.metadata?.name ?? '', uid: c.metadata?.uid ?? '' }))
    .filter(({ name, uid }) => name !== current && mounted.has(name) && uid !== '');
}

/**
 * The verdict under today's keys of the genome an older ConfigMap holds; undefined if gone. A
 * failed read refuses it (its pods' gates close: when in doubt, refuse) and is noted in
 * `decided.readFailures`, so that the reconcile throws after writing every gate and is retried.
 */
async function earlierVerdict(
  deps: ReconcileDeps,
  configMap: { namespace: string; name: string; uid: string },
  decided: Decided,
): Promise<Verdict | undefined> {
  const { input, keyVersion } = decided;
  const { namespace, name, uid } = configMap;
  const cached = deps.verifier.cachedPublishedVerdict(uid, keyVersion);
  if (cached !== undefined) return cached;
  let text: string | undefined;
  try {
    text = await deps.writes.readConfigMapText(namespace, name, uid, GENOME_CONFIGMAP_KEY);
  } catch (err) {
    decided.readFailures.push(err);
    const message = `could not read ConfigMap ${displayText(name)} to verify it again: ${errorMessage(err)}; retrying`;
    return { ok: false, ...refuse('GENOME_NOT_VERIFIED', message) };
  }
  return text === undefined
    ? undefined
    : deps.verifier.publishedVerdict(uid, text, input.keys, keyVersion);
}

/** An earlier genome's verdict, refused unless the ConfigMap is one this Genome published. */
function ownEarlier(input: DecideInput, current: Verified, name: string, verdict: Verdict) {
  if (!verdict.ok) return verdict;
  const genomeName = input.genome.metadata.name ?? '';
  const ours =
    (name === configMapName(genomeName, verdict.genomeId) ||
      name === legacyConfigMapName(genomeName, verdict.genomeId)) &&
    verdict.genome.name === current.genome.name;
  if (!ours)
    return {
      ok: false as const,
      ...refuse(
        'GENOME_NOT_VERIFIED',
        `ConfigMap ${displayText(name)} holds a genome that Genome ${displayText(genomeName)} never published`,
      ),
    };
  return productionVerdict({ ...input, verdict });
}

/**
 * Writes the gates' conditions, GATE_WRITERS at a time. A pod that is gone (or replaced by
 * one of the same name) needs nothing; any other failure throws, after every write was tried,
 * so the queue retries.
 */
async function writeGates(deps: ReconcileDeps, gates: GateWrite[], log: Logger): Promise<void> {
  if (gates.length === 0) return;
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < gates.length) {
      const gate = gates[next++]!;
      try {
        await deps.writes.patchPodGate(gate.namespace, gate.name, gate.uid, gate.condition);
        deps.metrics.gateWrites.inc({ status: gate.condition.status });
      } catch (err) {
        // Gone, or replaced by a pod of the same name (which the cache shows on its own).
        if (!isNotFound(err) && statusCode(err) !== 409 && !isUidMismatch(err)) failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(GATE_WRITERS, gates.length) }, worker));
  const opened = gates.filter((g) => g.condition.status === 'True').length;
  log.info('readiness gates written', {
    opened,
    closed: gates.length - opened,
    failed: failures.length,
    reason: gates[0]?.condition.reason,
  });
  if (failures.length > 0)
    throw new Error(
      `${failures.length} of ${gates.length} readiness gate writes failed: ${errorMessage(failures[0])}`,
    );
}

/** Applies the plan's ConfigMap (deleting one of that name with other content first). */
async function publish(deps: ReconcileDeps, ownerUid: string, plan: Plan): Promise<void> {
  if (plan.apply === undefined) return;
  const { name, namespace } = plan.apply.metadata;
  if (plan.replace) await deps.writes.deleteConfigMap(namespace, name);
  const uid = await deps.writes.applyConfigMap(plan.apply);
  const { data, ...applied } = plan.apply;
  deps.owned.noteApplied(ownerUid, {
    ...applied,
    metadata: { ...applied.metadata, uid },
    dataDigest: configMapDataDigest(data),
  });
}

interface Decided {
  /** Reads of older ConfigMaps that failed (the reconcile throws after its writes). */
  readFailures: unknown[];
  genome: GenomeResource;
  key: string;
  pods: readonly CachedPod[];
  keyVersion: string;
  input: DecideInput;
  plan: Plan;
}

/** The gate writes the plan calls for on the Genome's pods. */
async function gatesOf(deps: ReconcileDeps, decided: Decided): Promise<GateWrite[]> {
  const { key, pods, input, plan } = decided;
  return gateWrites(pods, {
    genomeKey: key,
    verdict: plan.verdict,
    published: await publishedVerdicts(deps, decided),
    now: input.now,
  });
}

/**
 * Carries out a plan. The pods' gates first: closing them is the most urgent thing a
 * revocation does, and opening one never depends on this reconcile's other writes (a pod is
 * admitted only after its ConfigMap was published). Then the ConfigMap (so status never says
 * Ready for a ConfigMap that failed to apply: a failure throws before status is written, and
 * the queue retries), status, or clean-up when the status needed no write, and Events. A
 * failed gate write throws after the rest. Resolves true when nothing needed writing.
 */
async function act(deps: ReconcileDeps, decided: Decided, log: Logger): Promise<boolean> {
  const { genome, plan } = decided;
  const gates = await gatesOf(deps, decided);
  const failure = await writeGates(deps, gates, log).then(
    () => undefined,
    (err: unknown) => err,
  );
  await publish(deps, genome.metadata.uid ?? '', plan);
  if (plan.writeStatus) await writeStatus(deps, decided, log);
  await cleanUp(deps, decided, log);
  recordEvents(deps, genome, plan);
  if (failure !== undefined) throw failure;
  if (decided.readFailures.length > 0) throw decided.readFailures[0];
  return gates.length === 0 && nothingToWrite(plan);
}

async function writeStatus(deps: ReconcileDeps, { genome, plan }: Decided, log: Logger) {
  const { namespace = '', name = '' } = genome.metadata;
  await deps.writes.applyStatus(namespace, name, plan.status);
  const ready = plan.status.conditions?.find((c) => c.type === 'Ready');
  log.info('status written', { ready: ready?.status, reason: ready?.reason });
}

/** True when a plan writes nothing: no ConfigMap, status, clean-up or Event. */
function nothingToWrite(plan: Plan): boolean {
  const writes = [plan.apply !== undefined, plan.writeStatus, plan.remove.length > 0];
  return !writes.includes(true) && plan.events.length === 0;
}

/**
 * Deletes the owned ConfigMaps the plan no longer needs, but not in a reconcile that has just
 * written status: that is left to the next reconcile of the key (its status write's watch
 * event brings it, and `requeue` makes sure of it), which deletes them whether or not it
 * writes status again. After a key revocation every Genome's status then goes out before any
 * clean-up, so Verified=False reaches all of them at the API server's rate for one write each.
 */
async function cleanUp(deps: ReconcileDeps, decided: Decided, log: Logger): Promise<void> {
  const { key, plan } = decided;
  if (plan.remove.length === 0) {
    deps.cleanUpDue.delete(key);
  } else if (!plan.writeStatus || deps.cleanUpDue.has(key)) {
    await removeOld(deps, decided, log);
    deps.cleanUpDue.delete(key);
  } else {
    deps.cleanUpDue.add(key);
    deps.requeue(key);
  }
}

async function removeOld(deps: ReconcileDeps, { genome, input, plan }: Decided, log: Logger) {
  const { namespace = '', uid = '' } = genome.metadata;
  const uids = new Map(input.owned.map((c) => [c.metadata?.name, c.metadata?.uid]));
  for (const name of plan.remove) {
    // Only the object the cache holds: a ConfigMap made since under that name is not ours.
    await deps.writes.deleteConfigMap(namespace, name, uids.get(name));
    deps.owned.noteDeleted(uid, namespace, name);
    log.info('removed an old ConfigMap', { configMap: name });
  }
}

function recordEvents(deps: ReconcileDeps, genome: GenomeResource, plan: Plan): void {
  const { name, namespace, uid, resourceVersion } = genome.metadata;
  const metadata = { name, namespace, uid, resourceVersion };
  const involved = { apiVersion: GENOME_API_VERSION, kind: GENOME_KIND, metadata };
  for (const event of plan.events) deps.events.record(involved, event);
}

/**
 * The Genome controller: for each Genome (key `namespace/name`), its verdict, its published
 * ConfigMap, its status, its Events and the clean-up of its older ConfigMaps. Gather reads the
 * caches (and the older ConfigMaps' genomes, which the cache does not hold); decide is pure
 * (operator/decide.ts); act records the verdict for the gate and rollout controllers
 * (operator/verdicts.ts), then writes.
 */
import { GENOME_API_VERSION, GENOME_CONFIGMAP_KEY, GENOME_KIND } from '../../core/api.ts';
import type { GenomeResource } from '../../core/api.ts';
import { refuse } from '../../core/codes.ts';
import { displayText } from '../../core/display.ts';
import { errorMessage, withFields, type Logger } from '../../core/log.ts';
import { configMapDataDigest, configMapName } from '../../core/render.ts';
import type { Refused, Verdict } from '../../core/verify.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { objectKey, type InformerEvent } from '../../kube/informer.ts';
import type { OperatorClient } from '../../kube/operator-client.ts';
import type { TrustView } from '../../kube/trust-view.ts';
import {
  decide,
  EXPIRY_WARNING_MS,
  productionVerdict,
  replacedConfigMap,
  statusFingerprint,
  type DecideInput,
  type Plan,
} from '../decide.ts';
import { hasGate, mountedConfigMap } from '../gate.ts';
import type { CompactGenome } from '../genome-store.ts';
import {
  forgetGenomeConditions,
  recordGenomeConditions,
  type OperatorMetrics,
} from '../metrics.ts';
import { OwnedConfigMaps, ownerKey } from '../owned-config-maps.ts';
import type { PodIndex } from '../pod-index.ts';
import {
  atStart,
  watchCache,
  watchKeys,
  type ControllerSpec,
  type EventSource,
} from '../runtime/controller.ts';
import { DONE, terminalIfInvalid, type Result } from '../runtime/result.ts';
import { summarize, type Verdicts } from '../verdicts.ts';
import { VerifyCache, type Judged, type Revision, type TrustInputs } from '../verify-cache.ts';
import type { CachedPod, CachedConfigMap } from '../cached.ts';

export type { KeySource } from '../../kube/trust-source.ts';
export type { TrustView } from '../../kube/trust-view.ts';

/** The Genomes: the cache's compact objects, and each Genome whole when a reconcile needs it. */
export interface Genomes extends EventSource<CompactGenome> {
  list(): CompactGenome[];
  /** The cached Genome without its genome text. */
  cached(key: string): CompactGenome | undefined;
  /** The Genome with its genome (operator/genome-store.ts). */
  get(key: string): Promise<GenomeResource | undefined>;
}

/** What the Genome controller reads and writes. */
export interface GenomeControllerDeps {
  genomes: Genomes;
  configMaps: EventSource<CachedConfigMap> & { list(): CachedConfigMap[] };
  pods: PodIndex;
  /** The keys, the trust policies and the namespaces' labels (kube/trust-view.ts). */
  trust: TrustView;
  verdicts: Verdicts;
  client: OperatorClient;
  events: EventRecorder;
  production: boolean;
  metrics: Pick<OperatorMetrics, 'verifications' | 'genomeConditions'>;
  log: Logger;
  now?: () => Date;
  workers?: number;
}

/**
 * The statuses this operator wrote, by Genome uid: the fingerprints of the last two. The last
 * one decides clean-up; either one recognises a status landing as its own (under load a watch
 * may deliver the echo of one write after the next write was made).
 */
class WrittenStatuses {
  private readonly byUid = new Map<string, readonly string[]>();

  /** The fingerprint of the last status written for `uid`. */
  get(uid: string): string | undefined {
    return this.byUid.get(uid)?.[0];
  }

  /** Whether one of the last two statuses written for `uid` has this fingerprint. */
  wrote(uid: string, fingerprint: string): boolean {
    return this.byUid.get(uid)?.includes(fingerprint) ?? false;
  }

  note(uid: string, fingerprint: string): void {
    // Forgotten on delete; the bound only covers deletes this operator never saw.
    if (this.byUid.size >= 100_000) this.byUid.clear();
    const last = this.byUid.get(uid)?.[0];
    this.byUid.set(
      uid,
      last === undefined || last === fingerprint ? [fingerprint] : [fingerprint, last],
    );
  }

  forget(uid: string): void {
    this.byUid.delete(uid);
  }
}

/** The Genome controller's state: its indexes and caches, built from its inputs. */
interface State {
  deps: GenomeControllerDeps;
  owned: OwnedConfigMaps;
  verifier: VerifyCache;
  written: WrittenStatuses;
  now: () => Date;
}

/** The Genome controller. */
export function genomeController(deps: GenomeControllerDeps): ControllerSpec {
  const state: State = {
    deps,
    owned: new OwnedConfigMaps(),
    verifier: new VerifyCache(),
    written: new WrittenStatuses(),
    now: deps.now ?? (() => new Date()),
  };
  for (const object of deps.configMaps.list()) state.owned.observe({ type: 'add', object });
  const everyGenome = () => deps.genomes.list().map(objectKey);
  return {
    name: 'genome',
    workers: deps.workers,
    watches: [
      atStart(everyGenome),
      watchCache(deps.genomes, (event) => {
        if (event.type === 'delete') forget(state, event.object);
        return ownStatusLanded(state, event) ? undefined : objectKey(event.object);
      }),
      // Not woken by its own apply or delete landing: act already counted what it wrote.
      watchCache(deps.configMaps, (event) =>
        state.owned.observe(event) ? undefined : ownerKey(event.object),
      ),
      // Its pods decide which older ConfigMaps stay and which count for their gates.
      watchKeys(deps.pods),
      watchKeys({ onChange: (tell) => deps.trust.onChange(() => everyGenome().forEach(tell)) }),
    ],
    reconcile: (key) => reconcileGenome(state, key),
  };
}

/**
 * Whether a Genome's change is only this operator's own status write landing: the same
 * generation, and a status it wrote (one of the last two). Nothing to decide then (a predicate, as
 * controller-runtime's GenerationChangedPredicate): after a burst of status writes the queue
 * would otherwise hold one more reconcile per Genome, each reading its genome back once its
 * text was let go. A clean-up that waits for the status is brought by its requeueAfter.
 */
function ownStatusLanded(state: State, event: InformerEvent<CompactGenome>): boolean {
  if (event.type !== 'update') return false;
  const { metadata, status } = event.object;
  return (
    event.old.metadata?.generation === metadata?.generation &&
    status !== undefined &&
    state.written.wrote(metadata?.uid ?? '', statusFingerprint(status))
  );
}

function forget(state: State, genome: CompactGenome): void {
  const uid = genome.metadata?.uid ?? '';
  state.verifier.forget(uid);
  state.owned.forget(uid);
  state.written.forget(uid);
}

/**
 * Reconciles one Genome. While the trusted keys are stale nothing is decided (fail closed: the
 * gate controller keeps gates from opening; trust.onChange brings every Genome back when they
 * are current). A Genome that is gone has its verdict withdrawn (its pods' gates close);
 * garbage collection removes what it owned.
 */
async function reconcileGenome(state: State, key: string): Promise<Result> {
  const { deps } = state;
  // A Genome that is gone has no verdict, whatever the keys (its delete may come while stale).
  if (deps.genomes.cached(key) === undefined) {
    gone(deps, key);
    return DONE;
  }
  if (!deps.trust.synced()) return DONE;
  // A namespace the watch has not delivered yet: its labels decide which policies match.
  // Its arrival wakes every Genome (kube/trust-view.ts); the requeue is the fallback.
  if (deps.trust.namespaceLabels(key.split('/')[0] ?? '') === undefined)
    return { requeueAfter: 1_000 };
  const known = refusedFromFacts(state, key);
  const genome = known?.genome ?? (await deps.genomes.get(key));
  if (genome?.metadata.uid === undefined) {
    gone(deps, key);
    return DONE;
  }
  const gathered = await gather(state, key, genome, known?.judged);
  const plan = decide(gathered.input);
  const log = withFields(deps.log, {
    namespace: genome.metadata.namespace,
    name: genome.metadata.name,
    genomeId: plan.status.genomeId,
  });
  return act(state, { ...gathered, key, plan }, log);
}

/** A Genome that is gone: its verdict withdrawn, its genome_condition series dropped. */
function gone(deps: GenomeControllerDeps, key: string): void {
  deps.verdicts.delete(key);
  const [namespace = '', name = ''] = key.split('/');
  forgetGenomeConditions(deps.metrics.genomeConditions, { namespace, name });
}

/** What gather read: decide's input, the trust it was judged under, and reads that failed. */
interface Gathered {
  input: DecideInput;
  /** The version of the keys, policies and namespace labels (TrustView.version). */
  keyVersion: string;
  inputs: TrustInputs;
  /** Reads of older ConfigMaps that failed: their pods' gates close, and the reconcile retries. */
  readFailures: unknown[];
}

/** What a genome in `namespace` is judged under now. */
function trustInputs(state: State, namespace: string): TrustInputs {
  const { trust } = state.deps;
  return {
    keys: trust.keys(),
    policies: trust.policies(),
    namespaceLabels: trust.namespaceLabels(namespace) ?? {},
    now: state.now().getTime(),
  };
}

/**
 * A Genome refused under today's trust, judged from the facts kept of its genome: no genome
 * text is needed to refuse (no ConfigMap to render), so a key revocation or a policy edit that
 * refuses a thousand Genomes reads none of them back. Undefined when its genome was not
 * examined before, or when it is verified (publishing needs the text).
 */
function refusedFromFacts(
  state: State,
  key: string,
): { genome: GenomeResource; judged: Judged } | undefined {
  const compact = state.deps.genomes.cached(key);
  const { genomeDigest, ...spec } = compact?.spec ?? {};
  if (compact === undefined || genomeDigest === undefined) return undefined;
  const inputs = trustInputs(state, compact.metadata.namespace ?? '');
  const judged = state.verifier.cachedJudgement(genomeDigest, inputs);
  if (judged === undefined || judged.verdict.ok) return undefined;
  return { genome: { ...compact, spec: { ...spec, genome: undefined } }, judged };
}

/**
 * The refusal a verified genome turns into at its next change by time alone, when that comes
 * within EXPIRY_WARNING_MS: judged from its kept facts at that instant (no verification).
 */
function expiringOf(
  state: State,
  at: { revision: Revision; genome: GenomeResource; inputs: TrustInputs; judged: Judged },
): { expiring?: Refused } {
  const { changesAt } = at.judged;
  if (!at.judged.verdict.ok || changesAt === undefined) return {};
  if (changesAt - at.inputs.now > EXPIRY_WARNING_MS) return {};
  const then = { ...at.inputs, now: changesAt };
  const future = state.verifier.verdict(at.revision, at.genome.spec.genome, then).judged.verdict;
  return future.ok ? {} : { expiring: future };
}

/** The genome store's digest of this revision's text, when the cache holds this very revision. */
function textDigestOf(state: State, genome: GenomeResource): string | undefined {
  const cached = state.deps.genomes.cached(objectKey(genome));
  const same = cached?.metadata.resourceVersion === genome.metadata.resourceVersion;
  return same ? cached?.spec.genomeDigest : undefined;
}

async function gather(
  state: State,
  key: string,
  genome: GenomeResource,
  known?: Judged,
): Promise<Gathered> {
  const { deps } = state;
  const { generation = 0, uid = '', namespace = '' } = genome.metadata;
  const keys = deps.trust.keys();
  const keyVersion = deps.trust.version(namespace);
  const revision = { uid, generation };
  const inputs = trustInputs(state, namespace);
  const { judged, fresh } =
    known === undefined
      ? state.verifier.verdict(revision, genome.spec.genome, inputs, textDigestOf(state, genome))
      : { judged: known, fresh: false };
  const { verdict } = judged;
  if (fresh) deps.metrics.verifications.inc({ result: verdict.ok ? 'Verified' : verdict.code });
  const pods = deps.pods.podsOf(key);
  const volumes = pods.flatMap((p) => p.spec?.volumes ?? []);
  const input: DecideInput = {
    genome,
    verdict,
    keys,
    production: deps.production,
    owned: state.owned.ownedBy(uid, namespace),
    mounted: new Set(volumes.map((v) => v.configMap?.name ?? '')),
    earlier: new Map(),
    lastWrittenStatus: state.written.get(uid),
    now: new Date(inputs.now),
    policies: judged.policies,
    ...(judged.changesAt !== undefined && { changesAt: judged.changesAt }),
    ...expiringOf(state, { revision, genome, inputs, judged }),
  };
  const gathered: Gathered = { input, keyVersion, inputs, readFailures: [] };
  const earlier = await earlierVerdicts(state, gathered, pods);
  return { ...gathered, input: { ...input, earlier } };
}

/**
 * The verdicts of the genomes in the Genome's older ConfigMaps that gated pods still mount
 * (for those pods' gates), by ConfigMap name. None for a Genome that is not verified: its
 * pods' gates close whatever they mount.
 */
async function earlierVerdicts(
  state: State,
  gathered: Gathered,
  pods: readonly CachedPod[],
): Promise<Map<string, Verdict>> {
  const { input } = gathered;
  const earlier = new Map<string, Verdict>();
  const current = productionVerdict(input);
  if (!current.ok) return earlier;
  const { name: genomeName = '', namespace = '' } = input.genome.metadata;
  const currentName = configMapName(genomeName, current.genomeId);
  const replaced = replacedConfigMap(input);
  const mounted = new Set(pods.filter(hasGate).map(mountedConfigMap));
  const older = input.owned.filter((c) => {
    const { name = '', uid = '' } = c.metadata ?? {};
    const counted = name !== currentName || name === replaced;
    return c.immutable === true && counted && mounted.has(name) && uid !== '';
  });
  for (const configMap of older) {
    const { name = '', uid = '' } = configMap.metadata ?? {};
    const verdict = await earlierVerdict(state, gathered, { namespace, name, uid });
    if (verdict !== undefined) earlier.set(name, verdict);
  }
  return earlier;
}

/**
 * The verdict under today's keys of the genome an older ConfigMap holds; undefined if it is
 * gone. A failed read refuses it (its pods' gates close: when in doubt, refuse) and is noted,
 * so that the reconcile throws after its writes and is retried.
 */
async function earlierVerdict(
  state: State,
  gathered: Gathered,
  configMap: { namespace: string; name: string; uid: string },
): Promise<Verdict | undefined> {
  const { inputs } = gathered;
  const { namespace, name, uid } = configMap;
  const cached = state.verifier.cachedPublishedVerdict(uid, inputs);
  if (cached !== undefined) return cached.verdict;
  let text: string | undefined;
  try {
    text = await state.deps.client.readConfigMapText(namespace, name, uid, GENOME_CONFIGMAP_KEY);
  } catch (err) {
    gathered.readFailures.push(err);
    const message = `could not read ConfigMap ${displayText(name)} to verify it again: ${errorMessage(err)}; retrying`;
    return { ok: false, ...refuse('GENOME_NOT_VERIFIED', message) };
  }
  return text === undefined
    ? undefined
    : state.verifier.publishedVerdict(uid, text, inputs).verdict;
}

interface Decided extends Gathered {
  key: string;
  plan: Plan;
}

/**
 * Carries out a plan. The verdict first: the gate controller closes (or opens) the pods'
 * gates from it, the most urgent thing a revocation does, while this reconcile writes on.
 * Then the ConfigMap (status never says Ready for a ConfigMap that failed to apply: a failure
 * throws before status is written), status, the clean-up unless it waits for the status
 * (decide.ts cleanUpWaits), and Events. A failed read of an older ConfigMap throws last.
 */
async function act(state: State, decided: Decided, log: Logger): Promise<Result> {
  const { deps } = state;
  const { input, plan, key, keyVersion } = decided;
  const { genome } = input;
  const uid = genome.metadata.uid ?? '';
  const verdict = (published: ReadonlyMap<string, Verdict>) => ({
    uid,
    generation: genome.metadata.generation ?? 0,
    keyVersion,
    verdict: summarize(plan.verdict),
    configMaps: new Map([...published].map(([name, v]) => [name, summarize(v)])),
    policies: (input.policies ?? []).map((p) => ({ policy: p.policy, held: p.held })),
  });
  deps.verdicts.set(key, verdict(plan.published));
  // Applied as decided: in place now, as the cache will show it (its landing wakes nothing).
  if (await publish(state, uid, plan)) deps.verdicts.set(key, verdict(withCurrent(plan)));
  if (plan.writeStatus) await writeStatus(state, genome, plan, log);
  const { namespace = '', name = '' } = genome.metadata;
  recordGenomeConditions(
    deps.metrics.genomeConditions,
    { namespace, name },
    plan.status.conditions ?? [],
  );
  if (!plan.deferCleanUp) await removeOld(state, decided, log);
  recordEvents(deps.events, genome, plan);
  if (decided.readFailures.length > 0) throw decided.readFailures[0];
  return plan.requeueAfter === undefined ? DONE : { requeueAfter: plan.requeueAfter };
}

/** The plan's published verdicts with its current ConfigMap in place (just applied). */
function withCurrent(plan: Plan): ReadonlyMap<string, Verdict> {
  const name = plan.status.configMapName;
  if (!plan.verdict.ok || name === undefined) return plan.published;
  return new Map([...plan.published, [name, plan.verdict]]);
}

/**
 * Applies the plan's ConfigMap, deleting one of that name with other content first; resolves
 * true when it applied one.
 */
async function publish(state: State, ownerUid: string, plan: Plan): Promise<boolean> {
  if (plan.apply === undefined) return false;
  const { name, namespace } = plan.apply.metadata;
  if (plan.replace) {
    const replaced = state.owned
      .ownedBy(ownerUid, namespace)
      .find((c) => c.metadata?.name === name);
    await state.deps.client.deleteConfigMap(namespace, name);
    // Its delete landing is this operator's own write (it wakes no reconcile).
    state.owned.noteDeleted(ownerUid, namespace, name, replaced?.metadata?.uid);
  }
  const apply = plan.apply;
  const uid = await terminalIfInvalid(() => state.deps.client.applyConfigMap(apply));
  const { data, ...applied } = plan.apply;
  state.owned.noteApplied(ownerUid, {
    ...applied,
    metadata: { ...applied.metadata, uid },
    dataDigest: configMapDataDigest(data),
  });
  return true;
}

async function writeStatus(state: State, genome: GenomeResource, plan: Plan, log: Logger) {
  const { namespace = '', name = '', uid = '' } = genome.metadata;
  await terminalIfInvalid(() => state.deps.client.applyStatus(namespace, name, plan.status));
  state.written.note(uid, statusFingerprint(plan.status));
  const ready = plan.status.conditions?.find((c) => c.type === 'Ready');
  log.info('status written', { ready: ready?.status, reason: ready?.reason });
}

async function removeOld(state: State, { input, plan }: Decided, log: Logger) {
  const { namespace = '', uid = '' } = input.genome.metadata;
  const uids = new Map(input.owned.map((c) => [c.metadata?.name, c.metadata?.uid]));
  for (const name of plan.remove) {
    // Only the object the cache holds: a ConfigMap made since under that name is not ours.
    await state.deps.client.deleteConfigMap(namespace, name, uids.get(name));
    state.owned.noteDeleted(uid, namespace, name, uids.get(name));
    log.info('removed an old ConfigMap', { configMap: name });
  }
}

function recordEvents(events: EventRecorder, genome: GenomeResource, plan: Plan): void {
  const { name, namespace, uid, resourceVersion } = genome.metadata;
  const metadata = { name, namespace, uid, resourceVersion };
  const involved = { apiVersion: GENOME_API_VERSION, kind: GENOME_KIND, metadata };
  for (const event of plan.events) events.record(involved, event);
}

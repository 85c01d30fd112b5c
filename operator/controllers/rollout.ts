/**
 * The rollout controller: for each Genome (key `namespace/name`), gather (caches) →
 * decideRollouts (pure, operator/rollout.ts) → act (stamp the pod templates of the workloads
 * that opt in, Events, metric). Its own queue: a failed stamp retries the rollout, never the
 * Genome's verdict or its gates. The verified id comes from the verdict the Genome controller
 * published (operator/verdicts.ts), under the keys in force now.
 */
import type { Counter } from 'prom-client';
import { GENOME_API_VERSION, GENOME_ID_ANNOTATION, GENOME_KIND } from '../../core/api.ts';
import { withFields, type Logger } from '../../core/log.ts';
import type { EventRecorder } from '../../kube/events.ts';
import { objectKey } from '../../kube/informer.ts';
import type { WorkloadWrites } from '../../kube/workload-writes.ts';
import type { CompactGenome } from '../genome-store.ts';
import type { PodIndex } from '../pod-index.ts';
import {
  atStart,
  watchCache,
  watchKeys,
  type ControllerSpec,
  type EventSource,
} from '../runtime/controller.ts';
import { DONE } from '../runtime/result.ts';
import { isCurrent, type Verdicts } from '../verdicts.ts';
import type { TrustView } from './genome.ts';
import {
  decideRollouts,
  pendingNote,
  rolledOutNotes,
  stampPatch,
  workloadGenome,
  templateStamp,
  type RolloutGenome,
} from '../rollout.ts';
import type { CachedPod, CachedWorkload } from '../cached.ts';

/** What a rollout reconcile reads (caches) and writes. */
interface RolloutDeps {
  genome(key: string): RolloutGenome | undefined;
  workloads(): readonly CachedWorkload[];
  /** The labelled pods that name the Genome `namespace/name`. */
  pods(key: string): readonly CachedPod[];
  /** The id the Genome verifies to now (the Genome controller's verdict), or undefined. */
  verifiedId(key: string, genome: RolloutGenome): string | undefined;
  writes: WorkloadWrites;
  events: EventRecorder;
  rollouts: Counter<'kind'>;
  /** The last Manual note per Genome uid, so that a steady state records no Event. */
  pendingNotes: Map<string, string>;
  /** Stamps written that the workload caches have not shown yet. */
  stamps: StampExpectations;
  log: Logger;
}

/** How long a stamp not yet seen in the cache is taken as written (client-go: 5 minutes). */
const EXPECTATION_TTL_MS = 5 * 60_000;

/**
 * Stamps the operator wrote that the workload caches have not shown yet, by workload uid, like
 * client-go's ControllerExpectations: a reconcile that runs before the cache catches up with
 * a stamp sees the workload as stamped, instead of stamping (and counting a rollout) twice.
 * The cache showing the stamp, or 5 minutes, ends an expectation.
 */
export class StampExpectations {
  private readonly pending = new Map<string, { id: string; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  expect(uid: string | undefined, id: string): void {
    if (uid === undefined) return;
    const now = this.now();
    // Workloads deleted before their stamp was seen leave entries: drop the expired ones.
    for (const [key, { at }] of this.pending)
      if (now - at > EXPECTATION_TTL_MS) this.pending.delete(key);
    this.pending.set(uid, { id, at: now });
  }

  /** A workload as the cache shows it now: ends the expectation once its stamp is there. */
  observe(workload: CachedWorkload): void {
    const uid = workload.metadata?.uid;
    const pending = uid === undefined ? undefined : this.pending.get(uid);
    if (pending !== undefined && templateStamp(workload) === pending.id) this.pending.delete(uid!);
  }

  /** The workload with the stamp expected on it (a copy), or as it is. */
  overlay(workload: CachedWorkload): CachedWorkload {
    const uid = workload.metadata?.uid;
    const pending = uid === undefined ? undefined : this.pending.get(uid);
    if (pending === undefined) return workload;
    if (this.now() - pending.at > EXPECTATION_TTL_MS || templateStamp(workload) === pending.id) {
      this.pending.delete(uid!);
      return workload;
    }
    const template = workload.spec?.template ?? {};
    const annotations = { ...template.metadata?.annotations, [GENOME_ID_ANNOTATION]: pending.id };
    return {
      ...workload,
      spec: {
        ...workload.spec,
        template: { ...template, metadata: { ...template.metadata, annotations } },
      },
    };
  }
}

/** A workload cache (kube/informer.ts), as far as rollouts go. */
export interface WorkloadCache extends EventSource<CachedWorkload> {
  list(): CachedWorkload[];
}

/** What the rollout controller runs on. */
export interface RolloutControllerDeps {
  genomes: EventSource<CompactGenome> & {
    list(): CompactGenome[];
    cached(key: string): CompactGenome | undefined;
  };
  workloads: readonly WorkloadCache[];
  /** The labelled pods by the Genome they name. */
  pods: PodIndex;
  verdicts: Verdicts;
  trust: Pick<TrustView, 'keys' | 'synced' | 'onChange' | 'version'>;
  writes: WorkloadWrites;
  events: EventRecorder;
  rollouts: Counter<'kind'>;
  log: Logger;
  workers?: number;
}

/** The rollout controller. */
export function rolloutController(wiring: RolloutControllerDeps): ControllerSpec {
  const stamps = new StampExpectations();
  const deps: RolloutDeps = {
    genome: (key) => wiring.genomes.cached(key),
    workloads: () => wiring.workloads.flatMap((c) => c.list()).map((w) => stamps.overlay(w)),
    pods: (key) => wiring.pods.podsOf(key),
    verifiedId: (key, genome) => {
      const entry = wiring.verdicts.get(key);
      const current =
        wiring.trust.synced() &&
        isCurrent(entry, genome, wiring.trust.version(genome.metadata?.namespace ?? ''));
      return current && entry.verdict.ok ? entry.verdict.genomeId : undefined;
    },
    writes: wiring.writes,
    events: wiring.events,
    rollouts: wiring.rollouts,
    pendingNotes: new Map(),
    stamps,
    log: wiring.log,
  };
  return {
    name: 'rollout',
    workers: wiring.workers,
    watches: [
      atStart(() => wiring.genomes.list().map(objectKey)),
      // Its status (what it publishes) decides when a rollout may start.
      watchCache(wiring.genomes, (e) => objectKey(e.object)),
      watchKeys(wiring.verdicts),
      watchKeys(wiring.pods),
      ...wiring.workloads.map((cache) =>
        watchCache(cache, ({ object }) => {
          stamps.observe(object);
          const genome = workloadGenome(object);
          return genome === undefined ? undefined : `${object.metadata?.namespace ?? ''}/${genome}`;
        }),
      ),
    ],
    reconcile: async (key) => {
      await reconcileRollouts(deps, key);
      return DONE;
    },
  };
}

const MAX_PENDING_NOTES = 4096;

/** Reconciles the rollouts of one Genome (key `namespace/name`); a write failure throws (retry). */
async function reconcileRollouts(deps: RolloutDeps, key: string): Promise<void> {
  const genome = deps.genome(key);
  if (genome?.metadata?.uid === undefined) return;
  const plan = decideRollouts({
    genome,
    verifiedId: deps.verifiedId(key, genome),
    workloads: deps.workloads(),
    pods: deps.pods(key),
  });
  const { name = '', namespace = '', uid, resourceVersion } = genome.metadata;
  const log = withFields(deps.log, { namespace, name });
  const involved = {
    apiVersion: GENOME_API_VERSION,
    kind: GENOME_KIND,
    metadata: { name, namespace, uid, resourceVersion },
  };
  for (const rollout of plan.roll) {
    const { kind, workload } = rollout;
    await deps.writes.patchTemplate(
      { kind, namespace, name: rollout.name, uid: workload.metadata?.uid },
      stampPatch(rollout.to),
    );
    deps.stamps.expect(workload.metadata?.uid, rollout.to);
    deps.rollouts.inc({ kind });
    log.info('rolled out', {
      kind,
      workload: rollout.name,
      genomeId: rollout.to,
      from: rollout.from,
    });
    const notes = rolledOutNotes(rollout, name);
    deps.events.record(involved, {
      type: 'Normal',
      reason: 'RolledOut',
      message: notes.genome,
    });
    deps.events.record(workload, {
      type: 'Normal',
      reason: 'RolledOut',
      message: notes.workload,
    });
  }
  await notePending(deps, involved, plan.pending.length > 0 ? plan.pending : undefined);
}

/** Records the Manual note when it changes (not on every reconcile of a steady state). */
async function notePending(
  deps: RolloutDeps,
  involved: { metadata: { uid?: string } } & Parameters<EventRecorder['record']>[0],
  pending: Parameters<typeof pendingNote>[0] | undefined,
): Promise<void> {
  const uid = involved.metadata.uid ?? '';
  if (pending === undefined) {
    deps.pendingNotes.delete(uid);
    return;
  }
  const message = pendingNote(pending, pending[0]?.to ?? '');
  if (deps.pendingNotes.get(uid) === message) return;
  if (deps.pendingNotes.size >= MAX_PENDING_NOTES) deps.pendingNotes.clear();
  deps.pendingNotes.set(uid, message);
  deps.events.record(involved, { type: 'Normal', reason: 'RolloutPending', message });
}

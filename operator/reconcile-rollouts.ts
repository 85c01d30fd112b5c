/**
 * The rollout reconciler: for one Genome key, gather (caches) → decideRollouts (pure,
 * operator/rollout.ts) → act (stamp the templates, Events, metric). It runs after the Genome's
 * own reconcile, on the same key and queue.
 */
import type { Counter } from 'prom-client';
import {
  GENOME_API_VERSION,
  GENOME_ID_ANNOTATION,
  GENOME_KIND,
  type GenomeResource,
} from '../core/api.ts';
import { withFields, type Logger } from '../core/log.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { WorkloadWrites } from '../kube/workload-writes.ts';
import { productionVerdict } from './decide.ts';
import {
  decideRollouts,
  pendingNote,
  rolledOutNotes,
  stampPatch,
  workloadGenome,
  templateStamp,
  type CachedWorkload,
  type RolloutPod,
} from './rollout.ts';
import { keySetVersion, type VerifyCache } from './verify-cache.ts';

/** What the rollout reconciler reads (caches) and writes. */
export interface RolloutDeps {
  genome(key: string): GenomeResource | undefined;
  workloads(): readonly CachedWorkload[];
  /** The labelled pods that name the Genome `namespace/name`. */
  pods(key: string): readonly RolloutPod[];
  /** The id the Genome verifies to now (the verdict of its reconcile), or undefined. */
  verifiedId(genome: GenomeResource): string | undefined;
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

/**
 * The verified id of a Genome from the reconcile's verdict cache (a hit: reconcile computed it
 * just before), with the production rule applied.
 */
export function verifiedIdFrom(
  verifier: VerifyCache,
  keys: () => readonly TrustedKey[],
  production: boolean,
): (genome: GenomeResource) => string | undefined {
  return (genome) => {
    const { uid = '', generation = 0 } = genome.metadata;
    const current = keys();
    const { verdict } = verifier.verdict(
      { uid, generation },
      genome.spec.genome,
      current,
      keySetVersion(current),
    );
    const final = productionVerdict({ verdict, keys: current, production });
    return final.ok ? final.genomeId : undefined;
  };
}

/** What the controller hands the rollouts: its caches, verdict cache, writers and metrics. */
export interface RolloutWiring {
  genomes: { get(key: string): GenomeResource | undefined };
  workloads: readonly WorkloadCache[];
  /** The labelled pods that name the Genome `namespace/name` (the controller's pod index). */
  podsOf(key: string): readonly RolloutPod[];
  keys(): readonly TrustedKey[];
  verifier: VerifyCache;
  production: boolean;
  writes: WorkloadWrites;
  events: EventRecorder;
  rollouts: Counter<'kind'>;
  log: Logger;
}

/** A workload cache (kube/informer.ts), as far as rollouts go. */
export interface WorkloadCache {
  list(): CachedWorkload[];
  onChange(handler: (event: { object: CachedWorkload }) => void): () => void;
}

/** The rollouts as the controller runs them: a reconcile per key, and the watches that enqueue. */
export interface Rollouts {
  reconcile(key: string): Promise<void>;
  /** Enqueues the Genome a changed workload's template names; returns the unsubscribers. */
  watch(enqueue: (key: string) => void): (() => void)[];
}

/** Builds the rollouts of a controller. */
export function rollouts(wiring: RolloutWiring): Rollouts {
  const stamps = new StampExpectations();
  const deps: RolloutDeps = {
    genome: (key) => wiring.genomes.get(key),
    workloads: () => wiring.workloads.flatMap((c) => c.list()).map((w) => stamps.overlay(w)),
    pods: (key) => wiring.podsOf(key),
    verifiedId: verifiedIdFrom(wiring.verifier, wiring.keys, wiring.production),
    writes: wiring.writes,
    events: wiring.events,
    rollouts: wiring.rollouts,
    pendingNotes: new Map(),
    stamps,
    log: wiring.log,
  };
  return {
    reconcile: (key) => reconcileRollouts(deps, key),
    watch: (enqueue) =>
      wiring.workloads.map((cache) =>
        cache.onChange(({ object }) => {
          stamps.observe(object);
          const genome = workloadGenome(object);
          if (genome !== undefined) enqueue(`${object.metadata?.namespace ?? ''}/${genome}`);
        }),
      ),
  };
}

const MAX_PENDING_NOTES = 4096;

/** Reconciles the rollouts of one Genome (key `namespace/name`); a write failure throws (retry). */
export async function reconcileRollouts(deps: RolloutDeps, key: string): Promise<void> {
  const genome = deps.genome(key);
  if (genome?.metadata.uid === undefined) return;
  const plan = decideRollouts({
    genome,
    verifiedId: deps.verifiedId(genome),
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

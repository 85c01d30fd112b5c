/**
 * The operator's three controllers, each on its own queue, started together on synced caches
 * while this replica leads:
 *
 * | controller | key | inputs | writes |
 * | --- | --- | --- | --- |
 * | genome | Genome | the Genome, its ConfigMaps, its pods, the trusted keys | verdict (in memory), ConfigMap, status, clean-up, Events |
 * | gate | pod | the pod, the Genome it names, that Genome's verdict, the keys' freshness | the pod's readiness gate condition, Events on the pod |
 * | rollout | Genome | the Genome (status), its verdict, its workloads and pods | pod template stamps, Events |
 * | policy | GenomeTrustPolicy | the policy, the keys, every Genome's verdict | the policy's status (Ready, counts) |
 *
 * The verdicts (operator/verdicts.ts) are how the Genome controller tells the other two what
 * it decided; the pod index (operator/pod-index.ts) is shared, kept from the pod cache.
 */
import type { Logger } from '../../core/log.ts';
import type { EventRecorder } from '../../kube/events.ts';
import type { OperatorClient } from '../../kube/operator-client.ts';
import type { WorkloadWrites } from '../../kube/workload-writes.ts';
import type { OperatorMetrics } from '../metrics.ts';
import { PodIndex, type PodCache } from '../pod-index.ts';
import { runController, type EventSource, type RuntimeContext } from '../runtime/controller.ts';
import { Verdicts } from '../verdicts.ts';
import { gateController } from './gate.ts';
import { genomeController, type Genomes, type TrustView } from './genome.ts';
import { policyController } from './policy.ts';
import { rolloutController, type WorkloadCache } from './rollout.ts';
import type { CachedPod, CachedConfigMap } from '../cached.ts';

/** How long stopping waits for the Events queued by the last reconciles to be written. */
const EVENT_FLUSH_MS = 5_000;

/** What the controllers run on. */
export interface ControllersDeps {
  genomes: Genomes;
  configMaps: EventSource<CachedConfigMap> & { list(): CachedConfigMap[] };
  pods: PodCache<CachedPod> & { get(key: string): CachedPod | undefined };
  workloads: readonly WorkloadCache[];
  trust: TrustView;
  client: OperatorClient;
  workloadWrites: WorkloadWrites;
  events: EventRecorder;
  production: boolean;
  metrics: OperatorMetrics;
  runtime: RuntimeContext;
  log: Logger;
  /** Workers of the Genome controller (the gate controller has 32, rollouts 4). */
  workers?: number;
}

/** The running controllers. */
export interface Controllers {
  /** What the genome controller has decided, by Genome key (read-only use). */
  readonly verdicts: Verdicts;
  /** Stops every controller, waits for their reconciles, then (bounded) for their Events. */
  stop(): Promise<void>;
}

/** Starts the Genome, gate and rollout controllers. */
export function startControllers(deps: ControllersDeps): Controllers {
  const verdicts = new Verdicts();
  const index = new PodIndex<CachedPod>();
  const unfollow = index.follow(deps.pods);
  const { genomes, trust, events, log } = deps;
  const controllers = [
    genomeController({
      genomes,
      configMaps: deps.configMaps,
      pods: index,
      trust,
      verdicts,
      client: deps.client,
      events,
      production: deps.production,
      metrics: deps.metrics,
      log,
      workers: deps.workers,
    }),
    gateController({
      pods: deps.pods,
      index,
      genomes,
      verdicts,
      trust,
      client: deps.client,
      metrics: deps.metrics,
      events,
      log,
    }),
    policyController({ trust, verdicts, client: deps.client, metrics: deps.metrics, log }),
    rolloutController({
      genomes,
      workloads: deps.workloads,
      pods: index,
      verdicts,
      trust,
      writes: deps.workloadWrites,
      events,
      rollouts: deps.metrics.rollouts,
      log,
    }),
  ].map((spec) => runController(spec, deps.runtime));
  return {
    verdicts,
    stop: async () => {
      await Promise.all(controllers.map((c) => c.stop()));
      unfollow();
      // The Events of the last reconciles, within a bound: the API server may be gone.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, EVENT_FLUSH_MS)));
      await Promise.race([events.flushed(), bound]);
      clearTimeout(timer);
    },
  };
}

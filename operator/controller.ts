import { errorMessage, type Logger } from '../core/log.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { OperatorClient } from '../kube/operator-client.ts';
import type { OperatorMetrics } from './metrics.ts';
import { OwnedConfigMaps, type CachedConfigMap } from './owned-config-maps.ts';
import { PodIndex } from './pod-index.ts';
import { hasGate, releasedGate, staleGate, type GateWrite } from './gate.ts';
import { isNotFound, isUidMismatch } from '../kube/errors.ts';
import { WorkQueue, type WorkQueueOptions } from './runtime/queue.ts';
import { reconcile, type CachedPod } from './reconcile.ts';
import { rollouts, type WorkloadCache } from './reconcile-rollouts.ts';
import type { WorkloadWrites } from '../kube/workload-writes.ts';
import type { GenomeResource } from '../core/api.ts';
import type { CompactGenome, GenomeStore } from './genome-store.ts';
import { VerifyCache } from './verify-cache.ts';

/** How long a stopping controller waits for its queued Events to be written. */
const EVENT_FLUSH_MS = 5_000;
/** A change a cache saw. */
export interface CacheEvent<T> {
  type: 'add' | 'update' | 'delete';
  object: T;
}

/** The part of kube/informer.ts's Informer the controller uses. */
export interface ObjectCache<T> {
  get(key: string): T | undefined;
  list(): T[];
  onChange(handler: (event: CacheEvent<T>) => void): () => void;
}

/** The part of kube/trust-source.ts's TrustSource the controller uses. */
export interface KeySource {
  keys(): readonly TrustedKey[];
  /** False while the keys are stale (see TrustSource.synced): no verdict is decided then. */
  synced(): boolean;
  /** Called when the keys change, and when they turn stale or current again. */
  onChange(listener: () => void): void;
}

/** What the controller runs on. */
export interface ControllerDeps {
  /** Genomes with their genome's digest (GenomeStore.compact is the informer's transform). */
  genomes: ObjectCache<CompactGenome>;
  /** The Genomes with their genome (operator/genome-store.ts). */
  store: Pick<GenomeStore, 'get'>;
  /** Told after every reconcile (operator/memory.ts IdleMemoryRelease). */
  memory?: { worked(): void };
  configMaps: ObjectCache<CachedConfigMap>;
  pods: ObjectCache<CachedPod>;
  trust: KeySource;
  writes: OperatorClient;
  events: EventRecorder;
  production: boolean;
  metrics: OperatorMetrics;
  log: Logger;
  queue: WorkQueueOptions;
  /** Deployments and StatefulSets (operator/rollout.ts), and the writes that roll them. */
  workloads: readonly WorkloadCache[];
  workloadWrites: WorkloadWrites;
}

/** A running controller. */
export interface Controller {
  /** Stops taking work and waits for the reconciles in process. */
  stop(): Promise<void>;
}

/** Queue keys of released pods (label removed) start with this; Genome keys never do. */
const RELEASED = 'released-pod:';

const keyOf = (object: { metadata?: { namespace?: string; name?: string } }) =>
  `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

/** The Genome that controls a ConfigMap, from its owner reference. */
function ownerKey(
  configMap: CachedConfigMap & {
    metadata?: { ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] };
  },
) {
  const owner = configMap.metadata?.ownerReferences?.find(
    (o) => o.controller && o.kind === 'Genome',
  );
  return owner?.name === undefined
    ? undefined
    : `${configMap.metadata?.namespace ?? ''}/${owner.name}`;
}

/**
 * Starts the Genome controller on synced caches: every change only enqueues keys (a Genome,
 * the owner of a ConfigMap, the Genomes a pod named and names, every Genome when the keys
 * change), and
 * the workers reconcile what the caches say now.
 */
export function startController(deps: ControllerDeps): Controller {
  const owned = new OwnedConfigMaps();
  for (const configMap of deps.configMaps.list()) owned.observe({ type: 'add', object: configMap });
  const pods = new PodIndex<CachedPod>();
  for (const pod of deps.pods.list()) pods.observe({ type: 'add', object: pod });
  const verifier = new VerifyCache();
  // The Genome a worker is reconciling, with its genome parsed (see withGenome).
  const working = new Map<string, GenomeResource>();
  const genomes = { get: (key: string) => working.get(key) };
  const reconcileDeps = {
    genome: genomes.get,
    pods: (key: string) => pods.podsOf(key),
    keys: () => deps.trust.keys(),
    owned,
    verifier,
    writes: deps.writes,
    events: deps.events,
    production: deps.production,
    metrics: deps.metrics,
    log: deps.log,
    now: () => new Date(),
    // A second look a second later, behind what is queued now (see reconcile.ts cleanUp).
    requeue: (key: string) => queue.addAfter(key, 1_000),
    cleanUpDue: new Set<string>(),
  };
  const rollout = rollouts({
    ...deps,
    genomes,
    podsOf: (key) => pods.podsOf(key),
    keys: () => deps.trust.keys(),
    verifier,
    writes: deps.workloadWrites,
    rollouts: deps.metrics.rollouts,
  });
  const queue = new WorkQueue(
    async (key) => {
      const end = deps.metrics.reconcileDuration.startTimer();
      try {
        if (key.startsWith(RELEASED)) {
          await closeReleased(key.slice(RELEASED.length));
        } else if (!deps.trust.synced()) {
          // Fail closed: no verdict from keys that may still hold a revoked one. The key comes
          // back when the keys are current again (trust.onChange enqueues every Genome).
          await holdGates(key);
        } else {
          await withGenome(key, async () => {
            await reconcile(reconcileDeps, key);
            await rollout.reconcile(key);
          });
        }
        end({ outcome: 'success' });
      } catch (err) {
        end({ outcome: 'error' });
        throw err;
      } finally {
        deps.metrics.queueDepth.set(queue.depth());
        deps.memory?.worked();
      }
    },
    {
      ...deps.queue,
      onRetry: (key, err, delayMs) => {
        deps.metrics.queueRetries.inc();
        deps.log.warn('reconcile failed; retrying', { key, delayMs, err: errorMessage(err) });
      },
    },
  );
  /**
   * Runs `work` (a reconcile and the rollouts of `key`) on the Genome with its genome parsed
   * (GenomeStore.get). No key is worked on by two workers at once (the queue), so `working`
   * holds one Genome per key.
   */
  const withGenome = async (key: string, work: () => Promise<void>) => {
    const genome = await deps.store.get(key);
    if (genome !== undefined) working.set(key, genome);
    try {
      await work();
    } finally {
      working.delete(key);
    }
  };
  /** While the keys are stale: the gates of the Genome's pods that are not open stay closed. */
  const holdGates = async (key: string) => {
    const now = new Date();
    const writes = pods.podsOf(key).map((pod) => staleGate(pod, now));
    for (const gate of writes.filter((w): w is GateWrite => w !== undefined)) {
      try {
        await deps.writes.patchPodGate(gate.namespace, gate.name, gate.uid, gate.condition);
        deps.metrics.gateWrites.inc({ status: 'False' });
      } catch (err) {
        if (!isNotFound(err) && !isUidMismatch(err)) throw err;
      }
    }
  };
  // Pods that left the watch with their gate declared (label removed): closed by key.
  const released = new Map<string, CachedPod>();
  const closeReleased = async (key: string) => {
    const pod = released.get(key);
    const gate = pod === undefined ? undefined : releasedGate(pod, new Date());
    if (gate !== undefined) {
      try {
        await deps.writes.patchPodGate(gate.namespace, gate.name, gate.uid, gate.condition);
        deps.metrics.gateWrites.inc({ status: 'False' });
        deps.log.info('closed the gate of a pod whose genome label was removed', { pod: key });
      } catch (err) {
        if (!isNotFound(err) && !isUidMismatch(err)) throw err;
      }
    }
    if (released.get(key) === pod) released.delete(key);
  };
  const enqueue = (key: string | undefined) => {
    if (key === undefined) return;
    queue.add(key);
    deps.metrics.queueDepth.set(queue.depth());
  };
  const enqueueAll = () => deps.genomes.list().forEach((g) => enqueue(keyOf(g)));
  const unsubscribe = [
    deps.genomes.onChange((e) => {
      if (e.type === 'delete') {
        verifier.forget(e.object.metadata.uid ?? '');
        owned.forget(e.object.metadata.uid ?? '');
      }
      enqueue(keyOf(e.object));
    }),
    deps.configMaps.onChange((e) => {
      owned.observe(e);
      enqueue(ownerKey(e.object));
    }),
    deps.pods.onChange((e) => {
      // A label-selector watch says DELETED, with the pod as it was, when the label goes: the
      // pod may live on. A pod really deleted has its deletionTimestamp set (hasGate is false
      // then) or, deleted at once, answers the close with 404, which is taken for done.
      if (e.type === 'delete' && hasGate(e.object)) {
        const key = keyOf(e.object);
        released.set(key, e.object);
        enqueue(`${RELEASED}${key}`);
      }
      pods.observe(e).forEach(enqueue);
    }),
    ...rollout.watch(enqueue),
  ];
  let running = true;
  deps.trust.onChange(() => {
    if (running) enqueueAll();
  });
  enqueueAll();
  return {
    stop: async () => {
      running = false;
      unsubscribe.forEach((u) => u());
      await queue.shutdown();
      // The Events of the last reconciles, within a bound: the API server may be gone.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, EVENT_FLUSH_MS)));
      await Promise.race([deps.events.flushed(), bound]);
      clearTimeout(timer);
    },
  };
}

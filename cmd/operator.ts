/**
 * The operator process: wiring only. Reads its configuration (operator/settings.ts) and fails
 * closed before touching the cluster; watches Genomes, its ConfigMaps, labelled pods and the
 * trusted keys; reconciles while it holds the leader Lease; serves /healthz, /readyz and
 * /metrics in every replica; on SIGTERM finishes in-flight reconciles and releases the Lease.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, FIELD_MANAGER } from '../core/api.ts';
import { GENOME_GROUP, GENOME_PLURAL, GENOME_VERSION } from '../core/api.ts';
import { errorMessage, jsonLogger, stdoutLines, type Logger } from '../core/log.ts';
import { readCertificateExpiry } from '../kube/certificate-expiry.ts';
import { eventRecorder } from '../kube/events.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import { digestConfigMap } from '../kube/strip.ts';
import { NAMES_A_GENOME } from '../operator/cache-bounds.ts';
import { podTransform } from '../operator/cached-pod.ts';
import { GenomeStore, type CompactGenome } from '../operator/genome-store.ts';
import { IdleMemoryRelease } from '../operator/runtime/memory.ts';
import { recordEvent } from '../kube/events.ts';
import { startLeaderElection, type LeadershipCallbacks } from '../kube/leader-election.ts';
import { operatorClient } from '../kube/operator-client.ts';
import { watchTrustedKeys, type TrustSource } from '../kube/trust-source.ts';
import { watchTrustView, type TrustView } from '../kube/trust-view.ts';
import { holdersOf } from '../core/trust.ts';
import { startControllers } from '../operator/controllers/index.ts';
import { KeyExpiryWarnings } from '../operator/key-expiry.ts';
import { runWhileLeading } from '../operator/runtime/leader.ts';
import { serveHealth } from '../kube/health-server.ts';
import { createMetrics, type OperatorMetrics } from '../operator/metrics.ts';
import { readSettings, type Settings } from '../operator/settings.ts';
import { workloadWrites } from '../kube/workload-writes.ts';
import { shrinkWorkload, WORKLOAD_KINDS } from '../operator/rollout.ts';
import { exitWith, kubeConfigOrExit, settingsOrExit, settingsSources } from '../kube/start-up.ts';
import type { CachedPod, CachedConfigMap, CachedWorkload } from '../operator/cached.ts';

/**
 * The log's lines: one write per turn of the event loop, not per line (core/log.ts), and what
 * is pending at exit.
 */
const lines = stdoutLines();

/** The caches the operator reconciles from. */
interface Caches {
  genomes: Informer<CompactGenome & KubernetesObject>;
  /** The Genomes with their genome, whose texts it holds apart (operator/genome-store.ts). */
  store: GenomeStore<Informer<CompactGenome & KubernetesObject>>;
  configMaps: Informer<CachedConfigMap & KubernetesObject>;
  pods: Informer<CachedPod & KubernetesObject>;
  /** The Deployments and StatefulSets that opt into rollouts, shrunk to what rollouts read. */
  workloads: Informer<CachedWorkload & KubernetesObject>[];
  trust: TrustSource;
  /** The keys with the trust policies and the namespaces' labels (kube/trust-view.ts). */
  view: TrustView;
}

/** How long the operator is idle after work before it gives memory back (operator/runtime/memory.ts). */
const MEMORY_RELEASE_IDLE_MS = 10_000;
/** The shortest time between two such releases. */
const MEMORY_RELEASE_INTERVAL_MS = 60_000;

/**
 * Objects per list page of the Genome, pod and workload caches. A tenant's Genome, pod or
 * workload may be as large as the API server stores (~1.5 MB), and a page is held whole while
 * it is parsed and shrunk: 10 such objects (15 MB of text, as much again parsed) fit the
 * chart's 128 MB heap beside everything else; the default 500 would not. The first list of
 * 3,000 Genomes of 50 KB took the operator to 311 MB RSS in pages of 500, 167 MB in pages of
 * 10, and synced no slower (docs/benchmarks.md).
 */
const TENANT_PAGE_SIZE = 10;

async function startCaches(
  kc: KubeConfig,
  settings: Settings,
  log: Logger,
  metrics: OperatorMetrics,
): Promise<Caches> {
  const trust = await watchTrustedKeys(kc, settings.namespace, log);
  const view = await watchTrustView(kc, trust, log);
  const path = `/apis/${GENOME_GROUP}/${GENOME_VERSION}`;
  const client = operatorClient(kc);
  const store = new GenomeStore({
    start: (transform) =>
      startInformer<CompactGenome & KubernetesObject>(kc, {
        path: `${path}/${GENOME_PLURAL}`,
        pageSize: TENANT_PAGE_SIZE,
        log,
        transform,
      }),
    read: client.readGenome,
    // A replica that may stand by holds no genome text until it leads (setHolding).
    holding: !settings.leaderElect,
    metrics,
  });
  const genomes = store.cache;
  return {
    trust,
    view,
    store,
    // managedFields and kubectl's last-applied copy are dropped from every cached object: for a
    // Genome each is about as large as its genome, and nothing here reads them.
    genomes,
    configMaps: startInformer(kc, {
      path: '/api/v1/configmaps',
      labelSelector: `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`,
      log,
      transform: digestConfigMap,
    }),
    // Pods and workloads are written by tenants: only those that name a Genome, each shrunk on
    // arrival to a few bounded fields (operator/cached-pod.ts, operator/rollout.ts), in pages
    // small enough that one page of the largest objects fits the heap while it is shrunk.
    pods: startInformer(kc, {
      path: '/api/v1/pods',
      labelSelector: NAMES_A_GENOME,
      pageSize: TENANT_PAGE_SIZE,
      log,
      transform: podTransform({ allowOptOut: settings.allowInjectionOptOut }),
    }),
    workloads: WORKLOAD_KINDS.map(({ kind, apiVersion, path }) =>
      startInformer(kc, {
        path,
        labelSelector: NAMES_A_GENOME,
        pageSize: TENANT_PAGE_SIZE,
        log,
        transform: shrinkWorkload(kind, apiVersion),
      }),
    ),
  };
}

function notReady(caches: Caches): string | undefined {
  if (!caches.trust.synced()) return 'trusted keys not loaded (or their watch is down)';
  if (!caches.view.synced())
    return 'trust policies or namespaces not loaded (or their watch is down)';
  const unsynced: string[] = (['genomes', 'configMaps', 'pods'] as const).filter(
    (c) => !caches[c].synced(),
  );
  if (caches.workloads.some((w) => !w.synced())) unsynced.push('workloads');
  return unsynced.length > 0 ? `caches not synced: ${unsynced.join(', ')}` : undefined;
}

async function waitUntilSynced(caches: Caches, stopped: () => boolean): Promise<void> {
  while (notReady(caches) !== undefined && !stopped()) await sleep(100);
}

/** Keeps the key and certificate metrics current. */
interface Wiring {
  kc: KubeConfig;
  settings: Settings;
  caches: Caches;
  metrics: OperatorMetrics;
  log: Logger;
}

function watchGauges(
  { kc, settings, caches, metrics, log }: Wiring,
  leading: () => boolean,
): () => void {
  const expiry = new KeyExpiryWarnings((secret, note) => {
    const involved = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secret, namespace: settings.namespace },
    };
    void recordEvent(kc, involved, note, log);
  });
  const tick = () => {
    // Warned by the leader alone: one Event per Secret and not-after, not one per replica.
    if (leading() && caches.trust.synced()) expiry.check(caches.trust.keys(), Date.now());
    metrics.trustedKeys.set(caches.trust.keys().length);
    const problems = caches.trust.problems();
    const exposed = problems.filter((p) => p.privateKey).length;
    metrics.refusedKeys.set({ private_key: 'true' }, exposed);
    metrics.refusedKeys.set({ private_key: 'false' }, problems.length - exposed);
    if (caches.trust.synced()) metrics.lastKeySync.set(Date.now() / 1000);
    metrics.keysStale.set(caches.trust.synced() ? 0 : 1);
    metrics.keyExpiry.reset();
    for (const key of caches.trust.keys())
      for (const holder of holdersOf(key))
        if (holder.notAfter !== undefined)
          metrics.keyExpiry.set(
            { secret: holder.secret ?? '', key_id: key.keyId },
            holder.notAfter / 1000,
          );
  };
  caches.trust.onChange(tick);
  const certificate = () =>
    readCertificateExpiry(kc, settings.namespace, settings.webhookTlsSecret).then(
      (expiry) => expiry !== undefined && metrics.webhookCertificateExpiry.set(expiry / 1000),
      (err: unknown) =>
        log.warn('could not read the webhook certificate', { err: errorMessage(err) }),
    );
  void certificate();
  const timers = [setInterval(tick, 5_000), setInterval(() => void certificate(), 60_000)];
  tick();
  return () => timers.forEach(clearInterval);
}

/** The controllers' inputs and writers, on the caches of this process. */
function controllersOf(wiring: Wiring, memory: IdleMemoryRelease) {
  const { kc, settings, caches, metrics, log } = wiring;
  const { store } = caches;
  return startControllers({
    genomes: {
      list: () => store.cache.list(),
      onChange: (handler) => store.cache.onChange(handler),
      cached: (key) => store.cached(key),
      get: (key) => store.get(key),
    },
    configMaps: caches.configMaps,
    pods: caches.pods,
    workloads: caches.workloads,
    trust: caches.view,
    client: operatorClient(kc),
    workloadWrites: workloadWrites(kc),
    events: eventRecorder(kc, log),
    production: settings.production,
    metrics,
    runtime: { metrics: metrics.runtime, log, afterReconcile: () => memory.worked() },
    log,
    workers: settings.workers,
  });
}

/** The Lease election of this replica, when the settings ask for one. */
function election(wiring: Wiring) {
  const { kc, settings, log } = wiring;
  if (!settings.leaderElect) return undefined;
  return (callbacks: LeadershipCallbacks) =>
    startLeaderElection(
      {
        kubeConfig: kc,
        namespace: settings.namespace,
        name: settings.leaseName,
        identity: settings.identity,
        log,
      },
      callbacks,
    );
}

async function main(): Promise<void> {
  const settings = settingsOrExit(
    readSettings(settingsSources(process.argv.slice(2), process.env)),
    lines,
  );
  const kc = kubeConfigOrExit(settings.kubeconfig, lines);
  const log = jsonLogger(
    lines.write,
    { component: 'genome-operator' },
    undefined,
    settings.logLevel,
  );
  const metrics = createMetrics();
  log.info('starting', {
    namespace: settings.namespace,
    production: settings.production,
    allowInjectionOptOut: settings.allowInjectionOptOut,
    leaderElect: settings.leaderElect,
    identity: settings.identity,
  });
  const caches = await startCaches(kc, settings, log, metrics);
  const health = await serveHealth(
    { notReady: () => notReady(caches), registry: metrics.registry },
    settings.healthHost,
    settings.healthPort,
  );
  log.info('serving health and metrics', { port: health.port });
  const wiring: Wiring = { kc, settings, caches, metrics, log };
  let leading = !settings.leaderElect;
  const stopGauges = watchGauges(wiring, () => leading);
  const memory = new IdleMemoryRelease({
    idleMs: MEMORY_RELEASE_IDLE_MS,
    minIntervalMs: MEMORY_RELEASE_INTERVAL_MS,
    log,
  });
  let stopping = false;
  // The caches' first lists are a burst of their own, in a standby too.
  void waitUntilSynced(caches, () => stopping).then(() => memory.worked());
  const writers = runWhileLeading(election(wiring), {
    start: async () => {
      await waitUntilSynced(caches, () => stopping);
      if (stopping) return undefined;
      log.info('reconciling');
      return controllersOf(wiring, memory);
    },
    onLeading: (now) => {
      leading = now || !settings.leaderElect;
      metrics.leader.set(now ? 1 : 0);
      // Only the leader decides: a standby reports no Genome's conditions (genome_condition).
      if (!leading) metrics.genomeConditions.reset();
      // A standby holds no genome text (operator/genome-store.ts).
      caches.store.setHolding(leading);
    },
  });
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await writers.stop().catch((err: unknown) => {
      log.error('stopping the controllers failed', { err: errorMessage(err) });
    });
    stopGauges();
    memory.stop();
    // The caches need no stopping: the process exits, and nothing is written after this.
    await health.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => exitWith(lines, `operator failed: ${errorMessage(err)}`, 1));

/**
 * The three controllers over an in-memory world: caches that hold what the "API server" here
 * holds, writes that change it and come back through the caches as watch events, and the real
 * GenomeStore, verdicts, pod index and runtime. Each test asserts the resulting world.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GENOME_ID_ANNOTATION,
  GENOME_LABEL,
  GENOME_UID_LABEL,
  VERIFIED_READINESS_GATE,
  type GenomeResource,
  type GenomeStatus,
} from '../../core/api.ts';
import { silentLogger } from '../../core/log.ts';
import {
  configMapDataDigest,
  desiredConfigMap,
  type PublishedConfigMap,
} from '../../core/render.ts';
import {
  genome as buildGenome,
  keyPair,
  signedBy,
  trusted as trust,
  version as withVersion,
} from '../../test/builders/index.ts';
import type { TrustedKey } from '../../core/trust.ts';
import {
  DEFAULT_TRUST_POLICY,
  type TrustPolicy,
  type TrustPolicyStatus,
} from '../../core/trust-policy.ts';
import { keyHoldersVersion } from '../../kube/trust-view.ts';
import { verify, type Verified } from '../../core/verify.ts';
import { objectKey, type InformerEvent } from '../../kube/informer.ts';
import type { EventNote } from '../../kube/events.ts';
import type { OperatorClient, PodCondition } from '../../kube/operator-client.ts';
import { GenomeStore, type CompactGenome } from '../genome-store.ts';
import { createMetrics } from '../metrics.ts';
import { startControllers, type Controllers } from './index.ts';
import type { CachedPod, CachedConfigMap, CachedWorkload } from '../cached.ts';
import { metricSum } from '../../test/support/metrics.ts';
import { canonicalJson } from '../../core/canonical.ts';

const alice = keyPair('alice');
const bob = keyPair('bob');
const mallory = keyPair('mallory');
const KEY = 'apps/totk';
const UID = 'genome-uid';

/** An answer of the API server, as client-node's errors carry its code. */
const answered = (statusCode: number, message = `HTTP ${statusCode}`) =>
  Object.assign(new Error(message), { statusCode });

/** A cache as kube/informer.ts gives it: get, list, change events (transform applied). */
class FakeCache<T extends { metadata?: { namespace?: string; name?: string } }> {
  readonly objects = new Map<string, T>();
  private readonly handlers = new Set<(e: InformerEvent<T>) => void>();
  transform: ((object: T, previous?: T) => T) | undefined;
  get(key: string) {
    return this.objects.get(key);
  }
  list() {
    return [...this.objects.values()];
  }
  onChange(handler: (e: InformerEvent<T>) => void) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  put(object: T) {
    const key = objectKey(object);
    const old = this.objects.get(key);
    const cached = this.transform ? this.transform(object, old) : object;
    this.objects.set(key, cached);
    const event: InformerEvent<T> =
      old === undefined ? { type: 'add', object: cached } : { type: 'update', object: cached, old };
    this.handlers.forEach((h) => h(event));
  }
  remove(key: string) {
    const object = this.objects.get(key);
    if (object === undefined) return;
    this.objects.delete(key);
    this.handlers.forEach((h) => h({ type: 'delete', object }));
  }
}

function genomeOf(version: string, resourceVersion: number, status?: GenomeStatus): GenomeResource {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: {
      name: 'totk',
      namespace: 'apps',
      uid: UID,
      generation: 1,
      resourceVersion: String(resourceVersion),
    },
    spec: { genome: buildGenome(signedBy(alice), withVersion(version)) },
    ...(status && { status }),
  };
}

/** A pod as the pod webhook makes it, mounting `configMap`, admitted with genome `id`. */
function gatedPod(name: string, configMap: string, id: string): CachedPod & KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'apps',
      uid: `${name}-uid`,
      labels: { [GENOME_LABEL]: 'totk' },
      annotations: { [GENOME_ID_ANNOTATION]: id },
    },
    spec: {
      readinessGates: [{ conditionType: VERIFIED_READINESS_GATE }],
      volumes: [{ name: 'mathison-genome', configMap: { name: configMap } }],
      injection: { complete: true },
    },
    status: { phase: 'Running', conditions: [] },
  } as CachedPod & KubernetesObject;
}

/** A value as the API server sends it back: every object's keys sorted (Go writes maps so). */
const asGoWritesIt = <T>(value: T): T =>
  (JSON.parse(canonicalJson({ value })) as { value: T }).value;

/** The ConfigMap the operator publishes for `genome` under `keys`. */
function publication(genome: GenomeResource, keys: readonly TrustedKey[]): PublishedConfigMap {
  const verdict = verify(genome.spec.genome, keys) as Verified;
  return desiredConfigMap(
    { name: 'totk', namespace: 'apps', uid: UID },
    genome.spec.genome,
    verdict,
    keys,
  );
}

/** The world: an "API server" of Genomes, ConfigMaps, pods and workloads, and the controllers. */
function world(
  options: {
    fresh?: boolean;
    idleMs?: number;
    keys?: readonly TrustedKey[];
    podEchoMs?: number;
  } = {},
) {
  let trustFresh = options.fresh ?? true;
  let keys: readonly TrustedKey[] = options.keys ?? trust(alice);
  const keyListeners: (() => void)[] = [];
  const genomeCache = new FakeCache<CompactGenome & KubernetesObject>();
  const configMapCache = new FakeCache<CachedConfigMap & KubernetesObject>();
  const podCache = new FakeCache<CachedPod & KubernetesObject>();
  const workloadCache = new FakeCache<CachedWorkload & KubernetesObject>();
  const server = {
    genome: genomeOf('1.0.0', 1) as GenomeResource | undefined,
    configMaps: new Map<string, PublishedConfigMap & { metadata: { uid: string } }>(),
    pods: new Map<string, CachedPod & KubernetesObject>(),
    resourceVersion: 1,
    /** False: a status write never shows in the cache (another field manager keeps a field). */
    settles: true,
  };
  const log = {
    statuses: [] as GenomeStatus[],
    gates: [] as { pod: string; status: string; reason: string }[],
    deleted: [] as string[],
    genomeReads: 0,
    stamps: [] as { name: string; patch: unknown }[],
    policyStatuses: [] as { name: string; status: TrustPolicyStatus }[],
    /** The Events recorded, on any object. */
    events: [] as (EventNote & { kind?: string; name?: string; uid?: string })[],
  };
  /** Failures to inject: the next calls of a write throw these, in order. */
  const failures = {
    status: [] as Error[],
    gate: [] as Error[],
    configMapText: [] as Error[],
    genomeRead: [] as Error[],
  };
  const store = new GenomeStore({
    start: (transform) => {
      genomeCache.transform = transform as never;
      return genomeCache;
    },
    read: () => {
      log.genomeReads += 1;
      const failure = failures.genomeRead.shift();
      if (failure) return Promise.reject(failure);
      return Promise.resolve(structuredClone(server.genome));
    },
    idleMs: options.idleMs ?? 10_000,
  });
  const putGenome = () =>
    server.genome
      ? genomeCache.put(structuredClone(server.genome) as never)
      : genomeCache.remove(KEY);
  const cacheConfigMap = (configMap: PublishedConfigMap & { metadata: { uid: string } }) => {
    const { data, ...rest } = configMap;
    configMapCache.put({ ...rest, dataDigest: configMapDataDigest(data) } as never);
  };
  const putPod = (pod: CachedPod & KubernetesObject) => {
    const key = objectKey(pod);
    server.pods.set(key, pod);
    const label = pod.metadata?.labels?.[GENOME_LABEL];
    if (label !== undefined && label !== '') podCache.put(structuredClone(pod));
    else podCache.remove(key); // a label-selected watch: DELETED when the label goes
  };
  let policy: TrustPolicy = { ...DEFAULT_TRUST_POLICY, generation: 1 };
  let namespaceLabels: Record<string, string> | undefined = {};
  let uids = 0;
  let podVersions = 0;
  const client: OperatorClient = {
    applyPolicyStatus: (name, status) => {
      log.policyStatuses.push({ name, status });
      policy = { ...policy, status };
      return Promise.resolve();
    },
    readPod: (namespace, name) =>
      Promise.resolve(structuredClone(server.pods.get(`${namespace}/${name}`)) as never),
    readConfigMapText: (namespace, name, uid, key) => {
      const failure = failures.configMapText.shift();
      if (failure) return Promise.reject(failure);
      const configMap = server.configMaps.get(`${namespace}/${name}`);
      return Promise.resolve(
        configMap?.metadata.uid === uid
          ? configMap.data[key as keyof typeof configMap.data]
          : undefined,
      );
    },
    readGenome: () => Promise.reject(new Error('the store reads Genomes')),
    applyConfigMap: (configMap) => {
      const uid = `cm-uid-${++uids}`;
      const stored = {
        ...structuredClone(configMap),
        metadata: { ...structuredClone(configMap.metadata), uid },
      };
      server.configMaps.set(objectKey(configMap), stored);
      setTimeout(() => cacheConfigMap(stored), 2);
      return Promise.resolve(uid);
    },
    deleteConfigMap: (namespace, name) => {
      log.deleted.push(name);
      server.configMaps.delete(`${namespace}/${name}`);
      setTimeout(() => configMapCache.remove(`${namespace}/${name}`), 2);
      return Promise.resolve();
    },
    applyStatus: (_namespace, _name, status) => {
      const failure = failures.status.shift();
      if (failure) return Promise.reject(failure);
      log.statuses.push(status);
      if (server.genome === undefined) return Promise.reject(answered(404));
      server.resourceVersion += 1;
      server.genome = {
        ...server.genome,
        metadata: { ...server.genome.metadata, resourceVersion: String(server.resourceVersion) },
        status: asGoWritesIt(status),
      };
      if (server.settles) setTimeout(putGenome, 5); // the status write's watch event, a moment later
      return Promise.resolve();
    },
    patchPodGate: (namespace, name, uid, condition: PodCondition) => {
      const failure = failures.gate.shift();
      if (failure) return Promise.reject(failure);
      const key = `${namespace}/${name}`;
      const pod = server.pods.get(key);
      if (pod === undefined || pod.metadata?.uid !== uid) return Promise.reject(answered(404));
      log.gates.push({ pod: name, status: condition.status, reason: condition.reason });
      const others = (pod.status?.conditions ?? []).filter((c) => c.type !== condition.type);
      const metadata = { ...pod.metadata, resourceVersion: String(++podVersions) };
      const written = {
        ...pod,
        metadata,
        status: { ...pod.status, conditions: [...others, condition] },
      };
      server.pods.set(key, written);
      // The write's watch event, a moment later (options.podEchoMs: a slow watch).
      setTimeout(() => {
        const now = server.pods.get(key);
        if (now !== undefined) putPod(now);
      }, options.podEchoMs ?? 2);
      return Promise.resolve();
    },
  };
  putGenome();
  const metrics = createMetrics();
  let controllers: Controllers | undefined;
  const start = () => {
    controllers = startControllers({
      genomes: {
        list: () => genomeCache.list(),
        onChange: (h) => genomeCache.onChange(h),
        cached: (key) => store.cached(key),
        get: (key) => store.get(key),
      },
      configMaps: configMapCache,
      pods: podCache,
      workloads: [workloadCache],
      trust: {
        keys: () => keys,
        synced: () => trustFresh,
        onChange: (l) => {
          keyListeners.push(l);
          return () => keyListeners.splice(keyListeners.indexOf(l), 1);
        },
        policies: () => [policy],
        onPolicyStatusChange: () => () => {},
        namespaceLabels: () => namespaceLabels,
        version: () => keyHoldersVersion(keys),
      },
      client,
      workloadWrites: {
        patchTemplate: (workload, patch) => {
          log.stamps.push({ name: workload.name, patch });
          return Promise.resolve();
        },
      },
      events: {
        record: (object, note) => {
          const { name, uid } = object.metadata ?? {};
          log.events.push({ kind: object.kind, name, uid, ...note });
        },
        flushed: () => Promise.resolve(),
      },
      production: false,
      metrics,
      runtime: { metrics: metrics.runtime, log: silentLogger, baseDelayMs: 5, maxDelayMs: 50 },
      log: silentLogger,
      workers: 2,
    });
    return controllers;
  };
  const metric = (name: string, labels: Record<string, string>) =>
    metricSum(metrics.registry, name, labels);
  return {
    server,
    log,
    failures,
    store,
    start,
    stop: () => controllers?.stop(),
    keyListeners: () => keyListeners.length,
    verdicts: () => controllers?.verdicts,
    metric,
    putPod,
    putWorkload: (workload: CachedWorkload & KubernetesObject) => workloadCache.put(workload),
    podCache,
    configMapCache,
    publish: (genome: GenomeResource, uid: string) => {
      const configMap = {
        ...publication(genome, keys),
        metadata: { ...publication(genome, keys).metadata, uid },
      };
      server.configMaps.set(objectKey(configMap), configMap);
      cacheConfigMap(configMap);
      return configMap;
    },
    setKeys: (next: readonly TrustedKey[]) => {
      keys = next;
      keyListeners.forEach((l) => l());
    },
    /** The namespace's labels (undefined: not delivered by its watch yet), then the change told. */
    setNamespaceLabels: (next: Record<string, string> | undefined) => {
      namespaceLabels = next;
      keyListeners.forEach((l) => l());
    },
    setFresh: (next: boolean) => {
      trustFresh = next;
      keyListeners.forEach((l) => l());
    },
    edit: (version: string) => {
      server.resourceVersion += 1;
      server.genome = genomeOf(version, server.resourceVersion, server.genome?.status);
      putGenome();
    },
    /** Edits the Genome to a document signed by a key nobody trusts (a new generation). */
    editUnsigned: () => {
      server.resourceVersion += 1;
      const edited = genomeOf('6.6.6', server.resourceVersion, server.genome?.status);
      edited.spec.genome = buildGenome(signedBy(mallory), withVersion('6.6.6'));
      edited.metadata.generation = 2;
      server.genome = edited;
      putGenome();
    },
    /** The Genome comes again from the watch with a new resourceVersion and `status`. */
    touch: (status = server.genome?.status) => {
      server.resourceVersion += 1;
      server.genome = {
        ...server.genome!,
        metadata: { ...server.genome!.metadata, resourceVersion: String(server.resourceVersion) },
        ...(status && { status }),
      };
      putGenome();
    },
    deleteGenome: () => {
      server.genome = undefined;
      putGenome();
    },
  };
}

const verified = (s: GenomeStatus | undefined) => s?.conditions?.find((c) => c.type === 'Verified');
const gateOf = (w: ReturnType<typeof world>, pod: string) =>
  w.server.pods
    .get(`apps/${pod}`)
    ?.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE);

let running: ReturnType<typeof world> | undefined;
afterEach(async () => {
  await running?.stop();
  running?.store.stop();
  running = undefined;
});

describe('the policy controller', () => {
  it("writes each policy's status: Ready, and the Genomes it matches, verified and refused", async () => {
    const w = (running = world());
    w.start();
    const last = () => w.log.policyStatuses.at(-1);
    await expect
      .poll(() => last()?.status, { timeout: 5_000 })
      .toMatchObject({
        observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'True' }],
        matched: 1,
        verified: 1,
        refused: 0,
      });
    expect(
      await w.metric('genome_trust_policy_genomes', { policy: 'default', result: 'held' }),
    ).toBe(1);
    // Every key gone: its Genome is refused TRUST_KEYS_MISSING before any policy is judged;
    // the policy, which names no Secret, says so and stays Ready (NoTrustedKeys).
    w.setKeys([]);
    await expect
      .poll(() => last()?.status, { timeout: 5_000 })
      .toMatchObject({
        conditions: [{ type: 'Ready', status: 'True', reason: 'NoTrustedKeys' }],
        matched: 0,
      });
    const writes = w.log.policyStatuses.length;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(w.log.policyStatuses.length).toBe(writes); // nothing changed: nothing written
  });
});

describe('the Genome controller', () => {
  it('verifies, publishes its ConfigMap and writes status; a revoked key turns it False and removes the ConfigMap after the status', async () => {
    const w = (running = world());
    w.start();
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    await expect
      .poll(() => w.server.genome?.status?.conditions?.find((c) => c.type === 'Ready')?.status)
      .toBe('True');
    const name = w.server.genome?.status?.configMapName ?? '';
    expect([...w.server.configMaps.keys()]).toEqual([`apps/${name}`]);
    w.setKeys(trust(bob));
    await expect
      .poll(() => verified(w.server.genome?.status)?.reason)
      .toBe('GENOME_UNTRUSTED_SIGNER');
    await expect.poll(() => w.server.configMaps.size).toBe(0);
    // Status went out before the clean-up.
    expect(w.log.deleted).toEqual([name]);
  });

  it('removes the ConfigMap of a refused genome even when its status write never settles', async () => {
    // No trusted keys: refused. The cache never shows the status written.
    const w = (running = world({ keys: [] }));
    const configMap = w.publish(w.server.genome!, 'old-uid');
    w.server.settles = false;
    w.start();
    await expect.poll(() => w.log.statuses.length).toBe(1);
    expect(w.log.deleted).toEqual([]); // status first; the clean-up waits for the next look
    await expect.poll(() => w.log.deleted, { timeout: 5_000 }).toEqual([configMap.metadata.name]);
    expect(w.log.statuses.length).toBeGreaterThanOrEqual(2); // that look wrote status again, and cleaned up
  });

  it('counts a terminal error (422 on its status) once and does not retry it; a change runs it again', async () => {
    const w = (running = world({ keys: [] })); // refused: the status is its only write
    w.failures.status.push(answered(422, 'status is invalid'));
    w.start();
    await expect
      .poll(() => w.metric('genome_reconcile_terminal_errors_total', { controller: 'genome' }))
      .toBe(1);
    await new Promise((r) => setTimeout(r, 150)); // well past every back-off of the harness
    expect(w.log.statuses).toEqual([]);
    expect(await w.metric('genome_queue_retries_total', { controller: 'genome' })).toBe(0);
    w.setKeys(trust(alice));
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
  });

  it('stops cleanly: every watch unsubscribed, the trusted keys included', async () => {
    const w = (running = world());
    w.start();
    expect(w.keyListeners()).toBeGreaterThan(0);
    await w.stop();
    expect(w.keyListeners()).toBe(0);
  });

  it("is not woken by its own status landing (same generation, the status it wrote), only by someone else's", async () => {
    const w = (running = world());
    w.start();
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    await new Promise((r) => setTimeout(r, 100));
    const reconciles = () =>
      w.metric('genome_reconcile_duration_seconds_count', { controller: 'genome' });
    const before = await reconciles();
    w.touch(); // the status it wrote, once more
    await new Promise((r) => setTimeout(r, 100));
    expect(await reconciles()).toBe(before);
    w.touch({ ...w.server.genome!.status, conditions: [] }); // someone else's status
    await expect.poll(() => reconciles()).toBeGreaterThan(before);
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
  });

  it('publishes in one reconcile: neither its ConfigMap nor its status landing wakes it again', async () => {
    const w = (running = world());
    w.start();
    await expect
      .poll(() => w.server.genome?.status?.conditions?.find((c) => c.type === 'Ready')?.status)
      .toBe('True');
    await expect.poll(() => w.configMapCache.list().length).toBe(1); // landed
    await new Promise((r) => setTimeout(r, 100));
    expect(
      await w.metric('genome_reconcile_duration_seconds_count', { controller: 'genome' }),
    ).toBe(1);
    // And its verdict counts that ConfigMap as in place, for the gates of its pods.
    const name = w.server.genome?.status?.configMapName ?? '';
    expect(w.verdicts()?.get(KEY)?.configMaps.get(name)).toMatchObject({ ok: true });
  });

  it('revokes in two reconciles (status, then clean-up); its own delete landing wakes nothing', async () => {
    const w = (running = world());
    w.start();
    await expect.poll(() => w.configMapCache.list().length).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    const reconciles = () =>
      w.metric('genome_reconcile_duration_seconds_count', { controller: 'genome' });
    const before = await reconciles();
    w.setKeys(trust(bob));
    await expect.poll(() => w.configMapCache.list().length, { timeout: 3_000 }).toBe(0);
    await new Promise((r) => setTimeout(r, 150));
    expect((await reconciles()) - before).toBe(2);
  });

  it('is not woken by the late echo of its previous status either (a lagging watch)', async () => {
    const w = (running = world({ keys: [] })); // refused: the status is its only write
    w.start();
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('False');
    const refused = w.server.genome!.status;
    w.setKeys(trust(alice));
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    await new Promise((r) => setTimeout(r, 150));
    const reconciles = () =>
      w.metric('genome_reconcile_duration_seconds_count', { controller: 'genome' });
    const before = await reconciles();
    w.touch(refused); // the first write's echo, delivered after the second write
    await new Promise((r) => setTimeout(r, 100));
    expect(await reconciles()).toBe(before);
  });

  it('refuses from the facts kept of its genome, reading no genome back; a verdict that publishes reads it, retrying a read that fails', async () => {
    const w = (running = world({ idleMs: 50 }));
    w.start();
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    await expect.poll(() => w.store.stats().texts).toBe(0);
    const reads = w.log.genomeReads;
    w.setKeys(trust(bob));
    await expect
      .poll(() => verified(w.server.genome?.status)?.reason)
      .toBe('GENOME_UNTRUSTED_SIGNER');
    expect(w.log.genomeReads).toBe(reads); // a revocation needs no genome text
    await expect.poll(() => w.store.stats().texts).toBe(0); // its status echo's text let go too
    const before = w.log.genomeReads;
    const written = w.log.statuses.length;
    w.failures.genomeRead.push(answered(503), answered(503));
    w.setKeys(trust(alice));
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    // Read back (the first read fails), or served from a text held again meanwhile.
    expect(w.log.genomeReads).toBeGreaterThan(before);
    expect(w.log.statuses.length).toBe(written + 1); // the failed reads wrote nothing
  });

  it('decides nothing in a namespace whose labels are not known yet, and decides once they are', async () => {
    const w = (running = world());
    w.setNamespaceLabels(undefined);
    w.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(w.log.statuses).toEqual([]);
    expect(w.verdicts()?.get(KEY)).toBeUndefined();
    w.setNamespaceLabels({ env: 'dev' });
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
  });

  it('withdraws the verdict of a Genome deleted while the keys are stale', async () => {
    const w = (running = world());
    const verdicts: string[] = [];
    w.start();
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
    w.verdicts()?.onChange((key) => verdicts.push(key));
    w.setFresh(false);
    w.deleteGenome();
    await expect.poll(() => verdicts).toEqual([KEY]);
    expect(w.verdicts()?.get(KEY)).toBeUndefined();
  });

  it('sets genome_condition from what it decided, follows a revocation, and drops it when the Genome is gone', async () => {
    const w = (running = world());
    const condition = (c: string, status: string) =>
      w.metric('genome_condition', { namespace: 'apps', name: 'totk', condition: c, status });
    w.start();
    await expect.poll(() => condition('Verified', 'True')).toBe(1);
    expect(await condition('Ready', 'True')).toBe(1);
    expect(await condition('Verified', 'False')).toBe(0);
    expect(await condition('TrustExpiring', 'False')).toBe(1);
    w.setKeys(trust(bob));
    await expect.poll(() => condition('Verified', 'False')).toBe(1);
    expect(await condition('Verified', 'True')).toBe(0);
    w.deleteGenome();
    await expect.poll(() => w.metric('genome_condition', { name: 'totk' })).toBe(0);
  });

  it('while the keys are stale: no status, no ConfigMap; all resumes when they are current', async () => {
    const w = (running = world({ fresh: false }));
    w.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(w.log.statuses).toEqual([]);
    expect(w.server.configMaps.size).toBe(0);
    w.setFresh(true);
    await expect.poll(() => verified(w.server.genome?.status)?.status).toBe('True');
  });
});

describe('the gate controller', () => {
  /** A world with its Genome verified and published, and `pods` gated on it. */
  async function published(pods: string[], options: { fresh?: boolean; podEchoMs?: number } = {}) {
    const w = (running = world(options));
    const genome = w.server.genome!;
    const configMap = w.publish(genome, 'cm-uid');
    const id = (verify(genome.spec.genome, trust(alice)) as Verified).genomeId;
    for (const name of pods) w.putPod(gatedPod(name, configMap.metadata.name, id));
    w.start();
    return { w, configMap, id };
  }

  it('keeps the gate open while the ConfigMap of a genome that stays verified is published again with other keys', async () => {
    const { w, configMap } = await published(['web']);
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    const writes = w.log.gates.length;
    // The same genome, still verified: only the keys published beside it change (a test mark),
    // so its ConfigMap is deleted and applied again under the same name.
    w.setKeys(trust({ ...alice, test: true }));
    await expect
      .poll(() => w.server.configMaps.get(`apps/${configMap.metadata.name}`)?.metadata.uid)
      .not.toBe('cm-uid');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(w.log.gates.slice(writes).filter((g) => g.status === 'False')).toEqual([]);
    expect(gateOf(w, 'web')?.status).toBe('True');
  });

  it('opens the gate of a pod that mounts the verified genome, and closes it on revocation', async () => {
    const { w } = await published(['web']);
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    w.setKeys(trust(bob));
    await expect.poll(() => gateOf(w, 'web')?.reason).toBe('GENOME_UNTRUSTED_SIGNER');
    expect(gateOf(w, 'web')?.status).toBe('False');
  });

  const podEvents = (w: ReturnType<typeof world>, pod: string) =>
    w.log.events
      .filter((e) => e.kind === 'Pod' && e.name === pod)
      .map(({ type, reason, message }) => ({ type, reason, message }));

  it('records an Event on the pod when its gate opens and when it closes, with the code, once per change', async () => {
    const { w, id } = await published(['web']);
    await expect.poll(() => podEvents(w, 'web')).toHaveLength(1);
    expect(podEvents(w, 'web')[0]).toEqual({
      type: 'Normal',
      reason: 'GateOpened',
      message: `readiness gate ${VERIFIED_READINESS_GATE} opened: genome ${id.slice(0, 12)} verified by alice`,
    });
    expect(w.log.events.find((e) => e.name === 'web')).toMatchObject({ uid: 'web-uid' });
    w.setKeys(trust(bob));
    await expect.poll(() => podEvents(w, 'web')).toHaveLength(2);
    const closed = podEvents(w, 'web')[1]!;
    expect(closed).toMatchObject({ type: 'Warning', reason: 'GateClosed' });
    expect(closed.message).toMatch(
      new RegExp(
        `^readiness gate ${VERIFIED_READINESS_GATE} closed: GENOME_UNTRUSTED_SIGNER: .*alice`,
      ),
    );
    expect(closed.message).toContain(gateOf(w, 'web')?.message);
    // Reconciles that change nothing (the Genome seen again, the keys told again) tell nothing.
    w.touch();
    w.setKeys(trust(bob));
    await new Promise((r) => setTimeout(r, 100));
    expect(podEvents(w, 'web')).toHaveLength(2);
    w.setKeys(trust(alice));
    await expect
      .poll(() => podEvents(w, 'web').map((e) => e.reason))
      .toEqual(['GateOpened', 'GateClosed', 'GateOpened']);
  });

  it('records one GateClosed when the same close is written twice before the watch brings the first back', async () => {
    const { w } = await published(['web'], { podEchoMs: 300 });
    await expect.poll(() => gateOf(w, 'web')?.status, { timeout: 5_000 }).toBe('True');
    await expect.poll(() => w.podCache.get('apps/web')?.status?.conditions).toHaveLength(1);
    w.setKeys(trust(bob));
    await expect.poll(() => w.log.gates.filter((g) => g.status === 'False')).toHaveLength(1);
    // Another key set (still without alice): a new verdict, the pod reconciled on its stale copy.
    w.setKeys(trust(bob, mallory));
    await expect.poll(() => w.log.gates.filter((g) => g.status === 'False')).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 400));
    expect(podEvents(w, 'web').map((e) => e.reason)).toEqual(['GateOpened', 'GateClosed']);
  });

  it('escapes what a pod or ConfigMap name brings into the Event, and bounds it', async () => {
    const { w, id } = await published([]);
    const hostile = `evil\u202e${'x'.repeat(5_000)}`;
    w.putPod(gatedPod('forged', hostile, id));
    await expect.poll(() => podEvents(w, 'forged')).toHaveLength(1);
    const [closed] = podEvents(w, 'forged');
    expect(closed).toMatchObject({ type: 'Warning', reason: 'GateClosed' });
    expect(closed!.message).toContain('GENOME_NOT_VERIFIED');
    expect(closed!.message).toContain('evil\\u{202e}');
    expect(closed!.message).not.toContain('\u202e');
    expect(closed!.message.length).toBeLessThanOrEqual(4096 + 32);
  });

  it('closes the gate of a pod whose genome label was removed, seeing the pod as it is', async () => {
    const { w } = await published(['web']);
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    const pod = w.server.pods.get('apps/web')!;
    w.putPod({ ...pod, metadata: { ...pod.metadata, labels: {} } });
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('False');
    expect(gateOf(w, 'web')?.reason).toBe('GENOME_MISSING');
    await expect.poll(() => podEvents(w, 'web').at(-1)?.message).toMatch(/closed: GENOME_MISSING/);
    // A pod deleted outright needs nothing: it is gone (404), no write and no error.
    const writes = w.log.gates.length;
    w.server.pods.delete('apps/web');
    w.podCache.remove('apps/web');
    await new Promise((r) => setTimeout(r, 50));
    expect(w.log.gates.length).toBe(writes);
  });

  it('closes the gates when the Genome is deleted', async () => {
    const { w } = await published(['web']);
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    w.deleteGenome();
    await expect.poll(() => gateOf(w, 'web')?.reason).toBe('GENOME_MISSING');
  });

  it('while the keys are stale opens no gate, leaves an open one alone, and resumes when current', async () => {
    const w = (running = world({ fresh: false }));
    const genome = w.server.genome!;
    const configMap = w.publish(genome, 'cm-uid');
    const id = (verify(genome.spec.genome, trust(alice)) as Verified).genomeId;
    const open = gatedPod('open', configMap.metadata.name, id);
    open.status = {
      phase: 'Running',
      conditions: [{ type: VERIFIED_READINESS_GATE, status: 'True', reason: 'Verified' }],
    };
    w.putPod(gatedPod('new', configMap.metadata.name, id));
    w.putPod(open);
    w.start();
    await expect
      .poll(() => w.log.gates)
      .toEqual([{ pod: 'new', status: 'False', reason: 'TRUST_KEYS_STALE' }]);
    await new Promise((r) => setTimeout(r, 100));
    expect(w.log.gates).toHaveLength(1);
    w.setFresh(true);
    await expect.poll(() => gateOf(w, 'new')?.status).toBe('True');
  });

  it('closes the gate of a pod on an older ConfigMap that cannot be read, opens the rest, and retries', async () => {
    const w = (running = world());
    const older = w.server.genome!;
    const olderCm = w.publish(older, 'older-uid');
    w.edit('2.0.0');
    const current = w.server.genome!;
    const currentCm = w.publish(current, 'current-uid');
    const idOf = (g: GenomeResource) => (verify(g.spec.genome, trust(alice)) as Verified).genomeId;
    w.putPod(gatedPod('on-current', currentCm.metadata.name, idOf(current)));
    w.putPod(gatedPod('on-older', olderCm.metadata.name, idOf(older)));
    for (const c of [olderCm, currentCm]) expect(c.metadata.labels[GENOME_UID_LABEL]).toBe(UID);
    w.failures.configMapText.push(answered(429, 'the API server answered 429'));
    w.start();
    await expect.poll(() => gateOf(w, 'on-current')?.status).toBe('True');
    await expect
      .poll(() => w.log.gates.find((g) => g.pod === 'on-older')?.reason)
      .toBe('GENOME_NOT_VERIFIED');
    // The retry reads it and opens it: it is a genome this Genome published.
    await expect.poll(() => gateOf(w, 'on-older')?.status).toBe('True');
    expect(
      await w.metric('genome_queue_retries_total', { controller: 'genome' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('never gives up closing a gate: a revocation whose close is refused (403) once closes it on the retry', async () => {
    const { w } = await published(['web']);
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    w.failures.gate.push(answered(403, 'forbidden'));
    w.setKeys(trust(bob));
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('False');
    expect(await w.metric('genome_queue_retries_total', { controller: 'gate' })).toBe(1);
    expect(await w.metric('genome_reconcile_terminal_errors_total', {})).toBe(0);
  });

  it('closes the gates of a revocation even when reading the Genome back fails (403) once', async () => {
    const w = (running = world({ idleMs: 50 }));
    const genome = w.server.genome!;
    const configMap = w.publish(genome, 'cm-uid');
    const id = (verify(genome.spec.genome, trust(alice)) as Verified).genomeId;
    w.putPod(gatedPod('web', configMap.metadata.name, id));
    w.start();
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    await expect.poll(() => w.store.stats().texts).toBe(0); // its text let go: a read-back follows
    w.failures.genomeRead.push(answered(403, 'forbidden'));
    w.setKeys(trust(bob));
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('False');
  });

  it('waits for the verdict of the Genome as it is now: an edit not yet decided opens no gate', async () => {
    const w = (running = world({ fresh: false }));
    const genome = w.server.genome!;
    const configMap = w.publish(genome, 'cm-uid');
    const id = (verify(genome.spec.genome, trust(alice)) as Verified).genomeId;
    w.putPod(gatedPod('web', configMap.metadata.name, id));
    // Verified while the keys are current ...
    w.setFresh(true);
    w.start();
    await expect.poll(() => gateOf(w, 'web')?.status).toBe('True');
    // ... then the keys go stale, the Genome is edited to a document nobody trusted signed, and
    // a new pod of the old genome comes: it must not open from the verdict of the old document.
    w.setFresh(false);
    w.editUnsigned();
    w.putPod(gatedPod('late', configMap.metadata.name, id));
    w.setFresh(true);
    await expect.poll(() => w.log.gates.find((g) => g.pod === 'late')?.status).toBe('False');
    expect(w.log.gates.filter((g) => g.pod === 'late').map((g) => g.status)).not.toContain('True');
  });
});

describe('the rollout controller', () => {
  it('stamps an opted-in workload with the verified id once the status publishes it, on its own queue', async () => {
    const w = (running = world());
    w.start();
    await expect.poll(() => w.server.genome?.status?.genomeId).toBeDefined();
    const id = w.server.genome?.status?.genomeId ?? '';
    const workload: CachedWorkload & KubernetesObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'apps',
        uid: 'web-uid',
        labels: { [GENOME_LABEL]: 'totk' },
      },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: {
            labels: { [GENOME_LABEL]: 'totk' },
            annotations: { [GENOME_ID_ANNOTATION]: 'old' },
          },
        },
      },
    };
    w.putWorkload(workload);
    await expect.poll(() => w.log.stamps.map((s) => s.name)).toEqual(['web']);
    expect(w.log.stamps[0]?.patch).toEqual({
      spec: { template: { metadata: { annotations: { [GENOME_ID_ANNOTATION]: id } } } },
    });
  });
});

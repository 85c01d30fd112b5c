import type { KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { GenomeResource, GenomeStatus } from '../core/api.ts';
import type { Logger } from '../core/log.ts';
import { makeGenome, makeSigner, signWith, trust } from '../core/test-fixtures.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { OperatorClient } from '../kube/operator-client.ts';
import {
  startController,
  type CacheEvent,
  type Controller,
  type ObjectCache,
} from './controller.ts';
import { GenomeStore, type CompactGenome } from './genome-store.ts';
import { createMetrics } from './metrics.ts';

const alice = makeSigner('alice');
const bob = makeSigner('bob');
const quiet = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger;
const KEY = 'apps/totk';

/** An in-memory cache with change callbacks, as kube/informer.ts gives the controller. */
class FakeCache<T> implements ObjectCache<T> {
  readonly objects = new Map<string, T>();
  private readonly handlers: ((e: CacheEvent<T>) => void)[] = [];
  get(key: string) {
    return this.objects.get(key);
  }
  list() {
    return [...this.objects.values()];
  }
  onChange(handler: (e: CacheEvent<T>) => void) {
    this.handlers.push(handler);
    return () => undefined;
  }
  emit(event: CacheEvent<T>) {
    for (const handler of this.handlers) handler(event);
  }
}

function genomeOf(version: string, resourceVersion: number, status?: GenomeStatus) {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: {
      name: 'totk',
      namespace: 'apps',
      uid: 'genome-uid',
      generation: 1,
      resourceVersion: String(resourceVersion),
    },
    spec: { genome: signWith({ ...makeGenome([alice]), version }, alice) },
    ...(status && { status }),
  } as GenomeResource;
}

/**
 * The controller over fake caches and writes. The API server's side is played here: what is
 * written (status) comes back through the Genome cache, through GenomeStore.compact as the
 * informer applies it; `server` is the Genome the API server would read back.
 */
function harness({ fresh = true, pods = [] as KubernetesObject[], idleMs = 10_000 } = {}) {
  let trustFresh = fresh;
  const gates: { name: string; status: string; reason: string }[] = [];
  const podCache = new FakeCache<KubernetesObject>();
  for (const pod of pods) podCache.objects.set(`apps/${pod.metadata?.name}`, pod);
  const genomes = new FakeCache<CompactGenome>();
  const reads = { count: 0, fail: 0, answer: undefined as GenomeResource | undefined };
  const texts = new GenomeStore({
    start: () => genomes,
    read: () => {
      reads.count += 1;
      if (reads.fail > 0) {
        reads.fail -= 1;
        return Promise.reject(new Error('the API server answered 503'));
      }
      return Promise.resolve(structuredClone(reads.answer ?? server));
    },
    idleMs,
  });
  let resourceVersion = 1;
  let server = genomeOf('1.0.0', resourceVersion);
  const store = (object: GenomeResource) => {
    const previous = genomes.get(KEY);
    const compact = texts.compact(
      object as unknown as KubernetesObject,
      previous as unknown as KubernetesObject | undefined,
    ) as unknown as CompactGenome;
    genomes.objects.set(KEY, compact);
    genomes.emit({ type: previous ? 'update' : 'add', object: compact });
  };
  let keys: readonly TrustedKey[] = trust(alice);
  const keyListeners: (() => void)[] = [];
  const statuses: GenomeStatus[] = [];
  const writes: OperatorClient = {
    readPod: () => Promise.resolve(undefined),
    readConfigMapText: () => Promise.resolve(undefined),
    readGenome: () => Promise.reject(new Error('the store reads Genomes')),
    deleteConfigMap: () => Promise.resolve(),
    applyConfigMap: () => Promise.resolve('configmap-uid'),
    applyStatus: (_ns, _name, status) => {
      statuses.push(status);
      resourceVersion += 1;
      server = {
        ...server,
        metadata: { ...server.metadata, resourceVersion: String(resourceVersion) },
        status,
      };
      // The status write's watch event, a moment later.
      setTimeout(() => store(structuredClone(server)), 5);
      return Promise.resolve();
    },
    patchPodGate: (_ns, name, _uid, condition) => {
      gates.push({ name, status: condition.status, reason: condition.reason });
      return Promise.resolve();
    },
  };
  store(structuredClone(server));
  const controller = startController({
    genomes,
    store: texts,
    configMaps: new FakeCache(),
    pods: podCache as never,
    trust: {
      keys: () => keys,
      synced: () => trustFresh,
      onChange: (l) => keyListeners.push(l),
    },
    writes,
    events: { record: () => {}, flushed: () => Promise.resolve() },
    production: false,
    metrics: createMetrics(),
    log: quiet,
    queue: { workers: 2, baseDelayMs: 5, maxDelayMs: 50 },
    workloads: [],
    workloadWrites: { patchTemplate: () => Promise.resolve() },
  });
  return {
    texts,
    statuses,
    gates,
    setFresh: (next: boolean) => {
      trustFresh = next;
      keyListeners.forEach((l) => l());
    },
    reads,
    controller,
    setKeys: (next: readonly TrustedKey[]) => {
      keys = next;
      keyListeners.forEach((l) => l());
    },
    edit: (version: string) => {
      resourceVersion += 1;
      server = genomeOf(version, resourceVersion, server.status);
      store(structuredClone(server));
    },
  };
}

const verified = (s: GenomeStatus | undefined) => s?.conditions?.find((c) => c.type === 'Verified');

describe('the controller with genome texts let go (GenomeStore)', () => {
  let running: Controller | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });
  const held = (h: ReturnType<typeof harness>) => h.texts.stats().texts;

  it('lets an idle text go, and reads the Genome back when the keys change', async () => {
    const h = harness({ idleMs: 50 });
    running = h.controller;
    await expect.poll(() => verified(h.statuses.at(-1))?.status).toBe('True');
    await expect.poll(() => held(h)).toBe(0);
    expect(h.reads.count).toBe(0);

    h.setKeys(trust(bob)); // alice's key revoked, bob's trusted
    await expect.poll(() => verified(h.statuses.at(-1))?.reason).toBe('GENOME_UNTRUSTED_SIGNER');
    // The status write's event brings the text again for the reconcile it starts.
    expect(h.reads.count).toBe(1);
    await expect.poll(() => held(h)).toBe(0);
  });

  it('retries a read that fails, and never decides without the genome', async () => {
    const h = harness({ idleMs: 50 });
    running = h.controller;
    await expect.poll(() => verified(h.statuses.at(-1))?.status).toBe('True');
    await expect.poll(() => held(h)).toBe(0);
    const written = h.statuses.length;
    h.reads.fail = 2;
    h.setKeys(trust(bob));
    await expect.poll(() => verified(h.statuses.at(-1))?.reason).toBe('GENOME_UNTRUSTED_SIGNER');
    expect(h.reads.count).toBe(3);
    // One status for the revocation: the failed reads wrote nothing.
    expect(h.statuses.length).toBe(written + 1);
  });

  it("decides on the API server's Genome when it is newer than the cache", async () => {
    const h = harness({ idleMs: 50 });
    running = h.controller;
    await expect.poll(() => verified(h.statuses.at(-1))?.status).toBe('True');
    await expect.poll(() => held(h)).toBe(0);
    const before = h.statuses.at(-1)?.genomeId;
    const edited = genomeOf('2.0.0', 99); // edited; the watch has not brought it yet
    h.reads.answer = { ...edited, metadata: { ...edited.metadata, generation: 2 } };
    h.setFresh(true); // any reason to reconcile
    await expect.poll(() => h.reads.count).toBe(1);
    await expect.poll(() => h.statuses.at(-1)?.observedGeneration).toBe(2);
    expect(verified(h.statuses.at(-1))?.status).toBe('True');
    expect(h.statuses.at(-1)?.genomeId).not.toBe(before);
  });
});

describe('the controller while the trusted keys are stale', () => {
  let running: Controller | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });
  const gatedPod = (name: string, gate?: { status: string; reason: string }) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'apps',
      uid: `${name}-uid`,
      labels: { 'genome.mathison.io/genome': 'totk' },
    },
    spec: { readinessGates: [{ conditionType: 'genome.mathison.io/verified' }], volumes: [] },
    status: {
      phase: 'Running',
      conditions: gate ? [{ type: 'genome.mathison.io/verified', ...gate }] : [],
    },
  });

  it('opens no gate and publishes no verdict; a gate already open is left alone; all resumes when they are current', async () => {
    const h = harness({
      fresh: false,
      pods: [gatedPod('new'), gatedPod('open', { status: 'True', reason: 'Verified' })],
    });
    running = h.controller;
    await expect
      .poll(() => h.gates)
      .toEqual([{ name: 'new', status: 'False', reason: 'TRUST_KEYS_STALE' }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(h.statuses).toEqual([]);
    expect(h.gates).toHaveLength(1);
    h.setFresh(true);
    await expect.poll(() => verified(h.statuses.at(-1))?.status).toBe('True');
  });
});

import { describe, expect, it } from 'vitest';
import { GENOME_UID_LABEL, VERIFIED_READINESS_GATE, type GenomeResource } from '../core/api.ts';
import type { Logger } from '../core/log.ts';
import { configMapDataDigest, desiredConfigMap } from '../core/render.ts';
import { makeGenome, makeSigner, signWith, trust } from '../core/test-fixtures.ts';
import type { TrustedKey } from '../core/trust.ts';
import { verify, type Verified } from '../core/verify.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { OperatorClient, PodCondition } from '../kube/operator-client.ts';
import type { CachedConfigMap } from './owned-config-maps.ts';
import { OwnedConfigMaps } from './owned-config-maps.ts';
import { createMetrics } from './metrics.ts';
import { reconcile, type CachedPod, type ReconcileDeps } from './reconcile.ts';
import { VerifyCache } from './verify-cache.ts';

const alice = makeSigner('alice');
const quiet = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger;
const UID = 'genome-uid';

function genomeResource(version: string): GenomeResource {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name: 'totk', namespace: 'apps', uid: UID, generation: 1 },
    spec: { genome: signWith({ ...makeGenome([alice]), version }, alice) },
  };
}

/** A ConfigMap published for the genome of `g`, as the ConfigMap cache holds it. */
function published(g: GenomeResource, keys: readonly TrustedKey[], uid: string): CachedConfigMap {
  const verdict = verify(g.spec.genome, keys) as Verified;
  const { data, ...rest } = desiredConfigMap(
    { name: 'totk', namespace: 'apps', uid: UID },
    g.spec.genome,
    verdict,
    keys,
  );
  return { ...rest, metadata: { ...rest.metadata, uid }, dataDigest: configMapDataDigest(data) };
}

function gatedPod(name: string, configMap: string, id: string): CachedPod {
  return {
    metadata: {
      name,
      namespace: 'apps',
      uid: `${name}-uid`,
      labels: { 'genome.mathison.io/genome': 'totk' },
      annotations: { 'genome.mathison.io/id': id },
    },
    spec: {
      readinessGates: [{ conditionType: VERIFIED_READINESS_GATE }],
      volumes: [{ name: 'mathison-genome', configMap: { name: configMap } }],
      injection: { complete: true },
    },
    status: { phase: 'Running', conditions: [] },
  };
}

/** ReconcileDeps over in-memory caches and writes that record what they were asked. */
function fakeDeps(
  genome: GenomeResource,
  keys: readonly TrustedKey[],
  configMaps: CachedConfigMap[],
  pods: CachedPod[] = [],
) {
  const owned = new OwnedConfigMaps();
  for (const object of configMaps) owned.observe({ type: 'add', object });
  const calls = {
    status: 0,
    deleted: [] as string[],
    gates: [] as { pod: string; condition: PodCondition }[],
    requeued: 0,
  };
  const writes: OperatorClient = {
    readPod: () => Promise.resolve(undefined),
    readConfigMapText: () => Promise.reject(new Error('the API server answered 429')),
    readGenome: () => Promise.reject(new Error('not read here')),
    deleteConfigMap: (_ns, name) => {
      calls.deleted.push(name);
      return Promise.resolve();
    },
    applyConfigMap: () => Promise.resolve('applied-uid'),
    applyStatus: () => {
      calls.status++;
      return Promise.resolve();
    },
    patchPodGate: (_ns, name, _uid, condition) => {
      calls.gates.push({ pod: name, condition });
      return Promise.resolve();
    },
  };
  const events: EventRecorder = { record: () => {}, flushed: () => Promise.resolve() };
  const deps: ReconcileDeps = {
    genome: () => genome,
    pods: () => pods,
    keys: () => keys,
    owned,
    verifier: new VerifyCache(),
    writes,
    events,
    production: false,
    metrics: createMetrics(),
    log: quiet,
    now: () => new Date('2026-12-02T00:00:00Z'),
    requeue: () => calls.requeued++,
    cleanUpDue: new Set(),
  };
  return { deps, calls };
}

describe('reconcile (caches and writes faked)', () => {
  it('removes the ConfigMap of a refused genome even when its status write never settles', async () => {
    const g = genomeResource('1.0.0');
    const cm = published(g, trust(alice), 'cm-uid');
    // No trusted keys: refused. The cache never shows the status written (say another field
    // manager keeps a field there), so every reconcile writes status again.
    const { deps, calls } = fakeDeps(g, [], [cm]);
    await reconcile(deps, 'apps/totk');
    expect(calls.status).toBe(1);
    expect(calls.deleted).toEqual([]); // status first; the clean-up waits for the next look
    expect(calls.requeued).toBe(1);
    await reconcile(deps, 'apps/totk');
    expect(calls.status).toBe(2);
    expect(calls.deleted).toEqual([cm.metadata!.name]);
  });

  it('writes every gate when an older ConfigMap cannot be read, closing its pods, then throws', async () => {
    const keys = trust(alice);
    const older = genomeResource('1.0.0');
    const current = genomeResource('2.0.0');
    const olderCm = published(older, keys, 'older-uid');
    const currentCm = published(current, keys, 'current-uid');
    const currentId = (verify(current.spec.genome, keys) as Verified).genomeId;
    const olderId = (verify(older.spec.genome, keys) as Verified).genomeId;
    const pods = [
      gatedPod('on-current', currentCm.metadata!.name!, currentId),
      gatedPod('on-older', olderCm.metadata!.name!, olderId),
    ];
    for (const c of [olderCm, currentCm])
      c.metadata = { ...c.metadata, labels: { ...c.metadata?.labels, [GENOME_UID_LABEL]: UID } };
    const { deps, calls } = fakeDeps(current, keys, [olderCm, currentCm], pods);
    await expect(reconcile(deps, 'apps/totk')).rejects.toThrow(/429/);
    const byPod = Object.fromEntries(calls.gates.map((g) => [g.pod, g.condition]));
    expect(byPod['on-current']?.status).toBe('True');
    expect(byPod['on-older']?.status).toBe('False');
    expect(byPod['on-older']?.reason).toBe('GENOME_NOT_VERIFIED');
    expect(byPod['on-older']?.message).toMatch(/could not read ConfigMap/);
  });
});

// The key rotation of docs/trust-policies.md ("Rotating a key without downtime") on real pods:
// a Deployment of the reference Mathison container (2 replicas, behind the operator's
// readiness gate and a Service) runs a genome signed by an old key; the new key's Secret is
// added, the genome signed by both is applied and rolled out automatically, then the old key's
// Secret gets a not-after a few seconds ahead. Throughout, the pods and the Service's endpoints
// are polled: the Ready count never falls below what the rolling update allows, and no pod
// leaves Ready unless the Deployment deleted it. Steps 1 and 2 hold; step 3 does not yet (see
// the note on its test).
import { CoreV1Api, DiscoveryV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GENOME_ID_ANNOTATION,
  GENOME_LABEL,
  NOT_AFTER_ANNOTATION,
  ROLLOUT_AUTOMATIC,
  VERIFIED_READINESS_GATE,
  type GenomeResource,
} from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import { genomeManifest } from '../../core/manifest.ts';
import {
  keyPair,
  signWith,
  totkUnsignedGenome,
  trustSecret,
  type TestKeyPair,
} from '../builders/index.ts';
import { eventually, kubeClient, kubectl } from '../support/cluster.ts';
import { readGenome } from '../support/operator.ts';
import { mathisonContainer } from './genome-fixtures.ts';
import {
  allRunningOn,
  apply,
  genomePublished,
  hasCondition,
  startGenomeStack,
  stopGenomeStack,
  type GenomeStack,
} from './support.ts';

const REPLICAS = 2;
/** A rolling update's floor: replicas less maxUnavailable (the default 25% of 2, rounded down: 0). */
const FLOOR = REPLICAS - Math.floor(REPLICAS * 0.25);
const SELECTOR = 'app=mathison';
const old = keyPair('rotate-old');
const next = keyPair('rotate-new');

/** TOTK's content, declaring and signed by `keys` (a new genome id for each set of keys). */
function totkSignedBy(...keys: TestKeyPair[]): Genome {
  const signers = keys.map((k) => ({
    key_id: k.keyId,
    alg: 'ed25519' as const,
    public_key: k.publicKey,
  }));
  const unsigned = totkUnsignedGenome();
  return signWith({ ...unsigned, authority: { ...unsigned.authority, signers } }, ...keys);
}

const g1 = totkSignedBy(old);
const g2 = totkSignedBy(old, next);
const [id1, id2] = [genomeId(g1), genomeId(g2)];
const labels = { app: 'mathison', [GENOME_LABEL]: 'mathison' };
const stack: Partial<GenomeStack> = {};
let ns: string;

const genomeResource = (g: Genome) => {
  const manifest = genomeManifest(g, 'mathison');
  return { ...manifest, spec: { genome: g, rollout: ROLLOUT_AUTOMATIC } };
};

beforeAll(async () => {
  await startGenomeStack(stack, {
    name: 'rotation',
    secrets: (own) => [trustSecret(own, 'old-signers', { [old.keyId]: old.publicKey })],
    genome: genomeResource(g1),
    genomeName: 'mathison',
    genomeId: id1,
    probe: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', labels },
      spec: { containers: [mathisonContainer()] },
    },
  });
  ns = stack.ns!;
}, 180_000);

afterAll(async () => {
  await stopGenomeStack(stack);
});

/** What the poller saw. */
interface Watched {
  polls: number;
  failedPolls: number;
  /** Fewest Ready pods that the Deployment had not deleted, in one list. */
  minReady: number;
  /** Fewest ready endpoints of the Service, in one list. */
  minEndpoints: number;
  /** How long (ms, between polls) no pod, and no endpoint, was Ready. */
  noPodMs: number;
  noEndpointMs: number;
  /** Each pod that left Ready (or whose gate left True) without being deleted, or on id2 at all. */
  left: string[];
}

const conditionOf = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);
const gateOf = (p: V1Pod) => conditionOf(p, VERIFIED_READINESS_GATE)?.status;

/** A pod that left Ready, said with its genome (old or new) and its gate's and Ready's reasons. */
function leaving(p: V1Pod): string {
  const id = p.metadata?.annotations?.[GENOME_ID_ANNOTATION] ?? '';
  const which = id === id1 ? 'old genome' : id === id2 ? 'new genome' : `genome ${id}`;
  const gate = conditionOf(p, VERIFIED_READINESS_GATE);
  const ready = conditionOf(p, 'Ready');
  return (
    `${p.metadata?.name} (${which}, deleted: ${p.metadata?.deletionTimestamp !== undefined}) ` +
    `at ${new Date().toISOString()}: gate ${gate?.status} ${gate?.reason ?? ''} ${gate?.message ?? ''}; ` +
    `Ready ${ready?.status} ${ready?.reason ?? ''} ${ready?.message ?? ''}`
  );
}

/** One look at the pods: the Ready count, and each pod that left Ready since the last look. */
function lookAtPods(items: V1Pod[], seen: Map<string, boolean>, w: Watched): number {
  let ready = 0;
  for (const p of items) {
    const name = p.metadata?.name ?? '';
    const id = p.metadata?.annotations?.[GENOME_ID_ANNOTATION] ?? '';
    const deleted = p.metadata?.deletionTimestamp !== undefined;
    const now = hasCondition(p, 'Ready') && gateOf(p) === 'True';
    if (now && !deleted) ready += 1;
    if (seen.get(name) === true && !now && (!deleted || id === id2)) w.left.push(leaving(p));
    seen.set(name, now);
  }
  w.minReady = Math.min(w.minReady, ready);
  return ready;
}

/** Ready endpoints of the Service `mathison`. */
async function readyEndpoints(): Promise<number> {
  const slices = await kubeClient().makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({
    namespace: ns,
    labelSelector: 'kubernetes.io/service-name=mathison',
  });
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true)
    .length;
}

/** Polls every 150 ms until `stop` resolves; returns what it saw. */
async function watchPods(stop: Promise<void>): Promise<Watched> {
  const w: Watched = {
    polls: 0,
    failedPolls: 0,
    minReady: Infinity,
    minEndpoints: Infinity,
    noPodMs: 0,
    noEndpointMs: 0,
    left: [],
  };
  let last = Date.now();
  const seen = new Map<string, boolean>();
  let done = false;
  void stop.then(() => (done = true));
  const core = kubeClient().makeApiClient(CoreV1Api);
  while (!done) {
    try {
      const [pods, endpoints] = await Promise.all([
        core.listNamespacedPod({ namespace: ns, labelSelector: SELECTOR }),
        readyEndpoints(),
      ]);
      const ready = lookAtPods(pods.items, seen, w);
      w.minEndpoints = Math.min(w.minEndpoints, endpoints);
      const now = Date.now();
      if (ready === 0) w.noPodMs += now - last;
      if (endpoints === 0) w.noEndpointMs += now - last;
      last = now;
      w.polls += 1;
    } catch {
      w.failedPolls += 1;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return w;
}

/** Waits until no pod of the Deployment, not even a terminating one, runs `id`. */
async function goneFrom(id: string): Promise<void> {
  await eventually(
    `no pod left on ${id.slice(0, 12)}`,
    async () => {
      const { items } = await kubeClient()
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: SELECTOR });
      const on = items.filter((p) => p.metadata?.annotations?.[GENOME_ID_ANNOTATION] === id);
      return on.length === 0 ? true : undefined;
    },
    90_000,
  );
}

const verifiedBy = (g: GenomeResource) => [...(g.status?.verifiedSigners ?? [])].sort().join(',');

/** Runs `steps` while the pods and endpoints are polled; returns its result and what was seen. */
async function watched<T>(steps: () => Promise<T>): Promise<[T, Watched]> {
  let finish!: () => void;
  const watching = watchPods(new Promise<void>((r) => (finish = r)));
  let result: T;
  try {
    result = await steps();
  } finally {
    finish();
  }
  return [result, await watching];
}

/** The figures of one watched stretch, printed. */
function report(what: string, w: Watched): void {
  console.log(
    `rotation, ${what}: min Ready pods ${w.minReady} (rolling update floor ${FLOOR}), ` +
      `min ready endpoints ${w.minEndpoints}; no Ready pod for ~${w.noPodMs} ms, no ready ` +
      `endpoint for ~${w.noEndpointMs} ms; ${w.polls} polls (${w.failedPolls} failed)`,
  );
}

/** Steps 1 and 2 of docs/trust-policies.md: the new key, then the genome signed by both, rolled out. */
async function addKeyAndRoll(): Promise<{ rolloutMs: number; rolled: V1Pod[] }> {
  // 1. The new key, in a Secret of its own.
  const own = stack.ownNamespace!;
  await apply(own, trustSecret(own, 'new-signers', { [next.keyId]: next.publicKey }));
  // 2. The genome signed by the old and the new key: a new id, rolled out automatically.
  const applied = Date.now();
  await apply(ns, genomeResource(g2));
  await genomePublished(ns, 'mathison', id2, (g) => verifiedBy(g) === 'rotate-new,rotate-old');
  const rolled = await allRunningOn(ns, SELECTOR, id2, REPLICAS);
  const rolloutMs = Date.now() - applied;
  await goneFrom(id1);
  return { rolloutMs, rolled };
}

/** Step 3: the old key retired by its Secret's not-after, a few seconds ahead; waits past it. */
async function retireOldKey(): Promise<GenomeResource> {
  const own = stack.ownNamespace!;
  const boundary = new Date(Date.now() + 4_000).toISOString();
  await kubectl([
    'annotate',
    'secret',
    '-n',
    own,
    'old-signers',
    `${NOT_AFTER_ANNOTATION}=${boundary}`,
  ]);
  return eventually('the old key past its not-after', async () => {
    const g = await readGenome(ns, 'mathison');
    const past = Date.now() > Date.parse(boundary) + 3_000;
    return past && g && verifiedBy(g) === 'rotate-new' ? g : undefined;
  });
}

let rolled: V1Pod[] = [];

describe('rotating a key as docs/trust-policies.md says, on real pods', () => {
  it('steps 1 and 2: the new key, and the genome signed by both rolled out, with no pod leaving Ready but those the rollout deletes', async () => {
    await apply(
      ns,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'mathison', labels: { [GENOME_LABEL]: 'mathison' } },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: 'mathison' } },
          template: { metadata: { labels }, spec: { containers: [mathisonContainer()] } },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'mathison' },
        spec: { selector: { app: 'mathison' }, ports: [{ port: 3000, targetPort: 3000 }] },
      },
    );
    const first = await allRunningOn(ns, SELECTOR, id1, REPLICAS);
    const gated = (p: V1Pod) =>
      p.spec?.readinessGates?.some((g) => g.conditionType === VERIFIED_READINESS_GATE);
    expect(first.every(gated)).toBe(true);
    await eventually('the Service to have 2 ready endpoints', async () =>
      (await readyEndpoints()) === REPLICAS ? true : undefined,
    );
    const [{ rolloutMs, rolled: pods }, seen] = await watched(addKeyAndRoll);
    rolled = pods;
    console.log(`rotation: the rollout onto the genome signed by both took ${rolloutMs} ms`);
    report('steps 1-2', seen);
    expect(seen.left).toEqual([]);
    expect(seen.minReady).toBeGreaterThanOrEqual(FLOOR);
    expect(seen.minEndpoints).toBeGreaterThanOrEqual(1);
    expect(seen.polls).toBeGreaterThan(seen.failedPolls * 10);
  }, 240_000);

  // KNOWN FAILURE, marked so (it.fails) until the operator keeps the gate through it: retiring
  // the old key changes the keys that verify the current genome, so its ConfigMap's
  // trusted-keys.json changes and the operator replaces the ConfigMap (delete, then apply);
  // meanwhile the verdicts it publishes leave that ConfigMap out (operator/decide.ts
  // publishedVerdicts, inPlace false), and the gate controller closes the gate of every pod
  // mounting it: "ConfigMap ... is not a published ConfigMap". The gate is open again within
  // milliseconds, but each pod's Ready is False until the kubelet syncs its status again, and
  // the Service has no ready endpoint meanwhile. Make this it() once that holds.
  it.fails(
    'step 3: the old key past its not-after, the genome verified by the new key alone, and every pod still Ready',
    async () => {
      expect(rolled).toHaveLength(REPLICAS);
      const [after, seen] = await watched(retireOldKey);
      report('step 3', seen);
      const log = (stack.operator?.output() ?? '').split('\n');
      const gates = log.filter((l) => l.includes('readiness gates written')).slice(-3);
      console.log(`rotation, step 3: the operator's last gate writes:\n${gates.join('\n')}`);
      expect(seen.left).toEqual([]);
      expect(seen.minReady).toBeGreaterThanOrEqual(FLOOR);
      expect(seen.minEndpoints).toBeGreaterThanOrEqual(1);
      expect(after.status?.conditions?.find((c) => c.type === 'Verified')?.status).toBe('True');
      expect(after.status?.genomeId).toBe(id2);
      // The very pods the rollout started, still Ready on the genome the new key verifies.
      const still = await allRunningOn(ns, SELECTOR, id2, REPLICAS);
      expect(still.map((p) => p.metadata?.name).sort()).toEqual(
        rolled.map((p) => p.metadata?.name).sort(),
      );
    },
    120_000,
  );
});

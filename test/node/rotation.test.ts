// The key rotation of docs/trust-policies.md ("Rotating a key without downtime") on real pods.
// Two Deployments of the reference Mathison container (2 replicas each, behind the operator's
// readiness gate and a Service), each labelled with a Genome of its own, run a genome signed
// by an old key. The new key's Secret is added and the genome signed by both is applied to both
// Genomes and rolled out automatically (steps 1 and 2). Deployment `b` then rolls onto the
// genome signed by the new key alone (the interim workaround), and the old key's Secret gets a
// not-after a few seconds ahead (step 3), for both at once. Throughout, the pods and the
// Services' endpoints are polled every 150 ms: the Ready count must never fall below what the
// rolling update allows, and no pod may leave Ready unless its Deployment deleted it. Steps 1
// and 2 hold, and step 3 for `b`; step 3 for `a` (the procedure as written) does not yet (see
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
const g3 = totkSignedBy(next);
const [id1, id2, id3] = [genomeId(g1), genomeId(g2), genomeId(g3)];
const named = new Map([
  [id1, 'old key'],
  [id2, 'both keys'],
  [id3, 'new key'],
]);

/** One Deployment, its Service and its Genome, all named `name`; `current`: the genome it should run. */
interface Workload {
  name: string;
  current: string;
}
const a: Workload = { name: 'mathison-a', current: id1 };
const b: Workload = { name: 'mathison-b', current: id1 };
const selectorOf = (w: Workload) => `app=${w.name}`;
const labelsOf = (w: Workload) => ({ app: w.name, [GENOME_LABEL]: w.name });

const stack: Partial<GenomeStack> = {};
let ns: string;

const genomeResource = (name: string, g: Genome) => {
  const manifest = genomeManifest(g, name);
  return { ...manifest, spec: { genome: g, rollout: ROLLOUT_AUTOMATIC } };
};

beforeAll(async () => {
  await startGenomeStack(stack, {
    name: 'rotation',
    secrets: (own) => [trustSecret(own, 'old-signers', { [old.keyId]: old.publicKey })],
    genome: genomeResource(a.name, g1),
    genomeName: a.name,
    genomeId: id1,
    probe: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', labels: labelsOf(a) },
      spec: { containers: [mathisonContainer()] },
    },
  });
  ns = stack.ns!;
}, 180_000);

afterAll(async () => {
  await stopGenomeStack(stack);
});

/** What the poller saw of one workload. */
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
  /** Each pod that left Ready (or whose gate left True) without being deleted, or on the current genome. */
  left: string[];
}

const conditionOf = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);
const gateOf = (p: V1Pod) => conditionOf(p, VERIFIED_READINESS_GATE)?.status;

/** A pod that left Ready, said with its genome and its gate's and Ready's reasons. */
function leaving(p: V1Pod): string {
  const id = p.metadata?.annotations?.[GENOME_ID_ANNOTATION] ?? '';
  const gate = conditionOf(p, VERIFIED_READINESS_GATE);
  const ready = conditionOf(p, 'Ready');
  return (
    `${p.metadata?.name} (genome signed by ${named.get(id) ?? id}, deleted: ` +
    `${p.metadata?.deletionTimestamp !== undefined}) at ${new Date().toISOString()}: gate ` +
    `${gate?.status} ${gate?.reason ?? ''} ${gate?.message ?? ''}; ` +
    `Ready ${ready?.status} ${ready?.reason ?? ''} ${ready?.message ?? ''}`
  );
}

/** One look at the pods: the Ready count, and each pod that left Ready since the last look. */
function lookAtPods(w: Workload, items: V1Pod[], seen: Map<string, boolean>, out: Watched) {
  let ready = 0;
  for (const p of items) {
    const name = p.metadata?.name ?? '';
    const id = p.metadata?.annotations?.[GENOME_ID_ANNOTATION] ?? '';
    const deleted = p.metadata?.deletionTimestamp !== undefined;
    const now = hasCondition(p, 'Ready') && gateOf(p) === 'True';
    if (now && !deleted) ready += 1;
    if (seen.get(name) === true && !now && (!deleted || id === w.current))
      out.left.push(leaving(p));
    seen.set(name, now);
  }
  out.minReady = Math.min(out.minReady, ready);
  return ready;
}

/** Ready endpoints of the Service `service`. */
async function readyEndpoints(service: string): Promise<number> {
  const slices = await kubeClient()
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({
      namespace: ns,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
  return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready === true)
    .length;
}

/** Polls the workload every 150 ms until `stop` resolves; returns what it saw. */
async function watchPods(w: Workload, stop: Promise<void>): Promise<Watched> {
  const out: Watched = {
    ...{ polls: 0, failedPolls: 0, minReady: Infinity, minEndpoints: Infinity },
    ...{ noPodMs: 0, noEndpointMs: 0, left: [] },
  };
  const seen = new Map<string, boolean>();
  let [done, last] = [false, Date.now()];
  void stop.then(() => (done = true));
  const core = kubeClient().makeApiClient(CoreV1Api);
  while (!done) {
    try {
      const [pods, endpoints] = await Promise.all([
        core.listNamespacedPod({ namespace: ns, labelSelector: selectorOf(w) }),
        readyEndpoints(w.name),
      ]);
      const ready = lookAtPods(w, pods.items, seen, out);
      out.minEndpoints = Math.min(out.minEndpoints, endpoints);
      const now = Date.now();
      if (ready === 0) out.noPodMs += now - last;
      if (endpoints === 0) out.noEndpointMs += now - last;
      [last, out.polls] = [now, out.polls + 1];
    } catch {
      out.failedPolls += 1;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return out;
}

/** Waits until no pod of the workload, not even a terminating one, runs `id`. */
async function goneFrom(w: Workload, id: string): Promise<void> {
  await eventually(
    `no pod of ${w.name} left on ${id.slice(0, 12)}`,
    async () => {
      const { items } = await kubeClient()
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: selectorOf(w) });
      const on = items.filter((p) => p.metadata?.annotations?.[GENOME_ID_ANNOTATION] === id);
      return on.length === 0 ? true : undefined;
    },
    90_000,
  );
}

const verifiedBy = (g: GenomeResource) => [...(g.status?.verifiedSigners ?? [])].sort().join(',');

/** Runs `steps` while the workloads are polled; returns its result and what was seen of each. */
async function watched<T>(ws: Workload[], steps: () => Promise<T>): Promise<[T, Watched[]]> {
  let finish!: () => void;
  const stop = new Promise<void>((r) => (finish = r));
  const watching = Promise.all(ws.map((w) => watchPods(w, stop)));
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

/** What must hold of every watched stretch: no pod lost, the floor kept, the Service served. */
function expectNoDowntime(seen: Watched): void {
  expect(seen.left).toEqual([]);
  expect(seen.minReady).toBeGreaterThanOrEqual(FLOOR);
  expect(seen.minEndpoints).toBeGreaterThanOrEqual(1);
  expect(seen.polls).toBeGreaterThan(seen.failedPolls * 10);
}

/** Applies `g` to the workload's Genome and waits until every pod is Ready on it and none runs another. */
async function rollOnto(w: Workload, g: Genome, signers: string): Promise<V1Pod[]> {
  const [before, id] = [w.current, genomeId(g)];
  w.current = id;
  await apply(ns, genomeResource(w.name, g));
  await genomePublished(ns, w.name, id, (r) => verifiedBy(r) === signers);
  const pods = await allRunningOn(ns, selectorOf(w), id, REPLICAS);
  await goneFrom(w, before);
  return pods;
}

/** Steps 1 and 2 of docs/trust-policies.md: the new key, then the genome signed by both, rolled out. */
async function addKeyAndRoll(): Promise<number> {
  // 1. The new key, in a Secret of its own.
  const own = stack.ownNamespace!;
  await apply(own, trustSecret(own, 'new-signers', { [next.keyId]: next.publicKey }));
  // 2. The genome signed by the old and the new key: a new id, rolled out automatically.
  const applied = Date.now();
  await Promise.all([a, b].map((w) => rollOnto(w, g2, 'rotate-new,rotate-old')));
  return Date.now() - applied;
}

/** Step 3: the old key retired by its Secret's not-after, a few seconds ahead; waits past it. */
async function retireOldKey(): Promise<GenomeResource[]> {
  const own = stack.ownNamespace!;
  const boundary = new Date(Date.now() + 4_000).toISOString();
  const annotation = `${NOT_AFTER_ANNOTATION}=${boundary}`;
  await kubectl(['annotate', 'secret', '-n', own, 'old-signers', annotation]);
  const past = async (w: Workload) => {
    const g = await readGenome(ns, w.name);
    const after = Date.now() > Date.parse(boundary) + 3_000;
    return after && g && verifiedBy(g) === 'rotate-new' ? g : undefined;
  };
  return Promise.all([a, b].map((w) => eventually(`${w.name} past the not-after`, () => past(w))));
}

/** The Deployment and the Service of a workload. */
const objectsOf = (w: Workload) => [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.name, labels: { [GENOME_LABEL]: w.name } },
    spec: {
      replicas: REPLICAS,
      selector: { matchLabels: { app: w.name } },
      template: { metadata: { labels: labelsOf(w) }, spec: { containers: [mathisonContainer()] } },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: w.name },
    spec: { selector: { app: w.name }, ports: [{ port: 3000, targetPort: 3000 }] },
  },
];

/** Step 3 as each workload saw it (set by the test that retires the old key). */
let step3: { a: Watched; after: GenomeResource[] } | undefined;

describe('rotating a key as docs/trust-policies.md says, on real pods', () => {
  it('steps 1 and 2: the new key, and the genome signed by both rolled out, with no pod leaving Ready but those the rollout deletes', async () => {
    await apply(ns, genomeResource(b.name, g1), ...objectsOf(a), ...objectsOf(b));
    for (const w of [a, b]) {
      const first = await allRunningOn(ns, selectorOf(w), id1, REPLICAS);
      const gated = (p: V1Pod) =>
        p.spec?.readinessGates?.some((g) => g.conditionType === VERIFIED_READINESS_GATE);
      expect(first.every(gated)).toBe(true);
      await eventually(`${w.name}'s Service to have 2 ready endpoints`, async () =>
        (await readyEndpoints(w.name)) === REPLICAS ? true : undefined,
      );
    }
    const [rolloutMs, seen] = await watched([a, b], addKeyAndRoll);
    console.log(`rotation: both rollouts onto the genome signed by both took ${rolloutMs} ms`);
    seen.forEach((s, i) => report(`steps 1-2, ${[a, b][i]!.name}`, s));
    seen.forEach(expectNoDowntime);
  }, 240_000);

  it('the workaround: b rolled onto the genome signed by the new key alone, with no pod leaving Ready but those the rollout deletes', async () => {
    const [, [seen]] = await watched([b], () => rollOnto(b, g3, 'rotate-new'));
    report(`the new key alone, ${b.name}`, seen!);
    expectNoDowntime(seen!);
  }, 120_000);

  it('step 3 after the workaround: the old key past its not-after keeps every pod of b Ready', async () => {
    const [after, [seenA, seenB]] = await watched([a, b], retireOldKey);
    step3 = { a: seenA!, after };
    report(`step 3, ${a.name} (as documented)`, seenA!);
    report(`step 3, ${b.name} (the workaround)`, seenB!);
    const log = (stack.operator?.output() ?? '').split('\n');
    const gates = log.filter((l) => l.includes('readiness gates written')).slice(-3);
    console.log(`rotation, step 3: the operator's last gate writes:\n${gates.join('\n')}`);
    expect(after[1]?.status?.genomeId).toBe(id3);
    expectNoDowntime(seenB!);
  }, 120_000);

  // Retiring the old key changes the keys that verify the genome `a` runs (signed by both), so
  // its ConfigMap (whose trusted-keys.json lists them) is published again under the same name;
  // its pods keep their gates meanwhile (operator/decide.ts replacedConfigMap).
  it('step 3 as documented: the old key past its not-after, the genome verified by the new key alone, and every pod of a still Ready', async () => {
    expect(step3).toBeDefined();
    const { a: seen, after } = step3!;
    expect(after[0]?.status?.conditions?.find((c) => c.type === 'Verified')?.status).toBe('True');
    expect(after[0]?.status?.genomeId).toBe(id2);
    expectNoDowntime(seen);
  });
});

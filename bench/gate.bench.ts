/**
 * The readiness gate at scale: one verified Genome and BENCH_PODS (default 1000) gated pods of
 * it; the time from a key revocation (the trust Secret's write) until every pod's gate
 * condition is False, and from the key's return until every one is True again, beside the API
 * server's own rate for the same writes measured in the same run (the same number of pods/status
 * strategic merge patches, made directly with the same client at the same concurrency), in
 * BENCH_ROUNDS rounds (default 3): the median, the spread, and the operator's own latency (from
 * the trust Secret's write to the first gate that shows it).
 *
 * The pods are held by a scheduling gate: they exist and carry conditions, and no kubelet runs
 * them (pods bound to a node name that does not exist would be removed by the pod GC).
 */
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  operatorHealth,
  spawnOperator,
  type OperatorProcess,
} from '../cluster/operator-process.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import type { GenomeResource } from '../core/api.ts';
import { genomeManifest } from '../core/manifest.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import {
  admittedWith,
  gated,
  genome,
  held,
  keyPair,
  mounts,
  naming,
  pod,
  signedBy,
} from '../test/builders/index.ts';
import { pool, startBenchCluster, SYSTEM, until } from './bench-cluster.ts';
import { median } from './measure.ts';

const PODS = Number(process.env.BENCH_PODS ?? 1000);
/** Rounds of (API server alone, revocation, restore): the machine's noise shows as their spread. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The operator's gate workers (operator/controllers/gate.ts): the baseline uses as many. */
const CONCURRENCY = 32;
const GATE = 'genome.mathison.io/verified';
const NS = 'gated';
const signer = keyPair('bench-key');
const other = keyPair('other-key');

type Pod = V1Pod & KubernetesObject;

const gateOf = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === GATE)?.status;

/** A pod of Genome `app` as the pod webhook admits it, held unscheduled. */
const gatedPod = (name: string, configMap: string, id: string) =>
  pod(
    name,
    naming('app'),
    admittedWith(id),
    held('bench.genome.mathison.io/hold'),
    gated(),
    mounts(configMap),
  );

/** One round: the API server's own time for the writes, then the operator's two. */
interface Round {
  baseline: number;
  revoked: Flip;
  restored: Flip;
}

/** Milliseconds from a trust change until the first and until every gate shows its effect. */
interface Flip {
  first: number;
  all: number;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ms = (value: number) => `${Math.round(value)} ms`;

/**
 * The API server alone: the same number of pods/status strategic merge patches, made directly
 * at the operator's concurrency, on a condition of the benchmark's. Each round writes another
 * message, so every patch is a real write (an unchanged one would be a no-op for etcd).
 */
async function apiServerAlone(core: CoreV1Api, names: string[], round: number): Promise<number> {
  const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  const started = performance.now();
  await pool(names, CONCURRENCY, (name) =>
    core.patchNamespacedPodStatus(
      {
        namespace: NS,
        name,
        body: {
          status: {
            conditions: [
              {
                type: 'bench.genome.mathison.io/baseline',
                status: 'True',
                reason: 'Baseline',
                message: `written by the benchmark, round ${round}`,
                lastTransitionTime: new Date().toISOString().slice(0, 19) + 'Z',
              },
            ],
          },
        },
      },
      strategic,
    ),
  );
  return performance.now() - started;
}

/** Makes the trust change, then waits until every pod's gate is `status`. */
async function gatesAfter(
  pods: Informer<Pod>,
  change: () => void,
  status: 'True' | 'False',
): Promise<Flip> {
  let first: number | undefined;
  const since = performance.now();
  const off = pods.onChange((e) => {
    if (first === undefined && e.type !== 'delete' && gateOf(e.object) === status)
      first = performance.now() - since;
  });
  change();
  const all = await until(pods, PODS, (p) => gateOf(p) === status, since);
  off();
  return { first: first ?? all, all };
}

async function main(): Promise<void> {
  const cluster = await startBenchCluster([NS]);
  const { admin, setTrust } = cluster;
  const core = admin.makeApiClient(CoreV1Api);
  let operator: OperatorProcess | undefined;
  try {
    const keys = { [signer.keyId]: signer.publicKey, [other.keyId]: other.publicKey };
    setTrust(keys);
    const genomes = startInformer<GenomeResource & KubernetesObject>(admin, {
      path: `/apis/mathison.io/v1alpha1/namespaces/${NS}/genomes`,
    });
    const pods = startInformer<Pod>(admin, { path: `/api/v1/namespaces/${NS}/pods` });
    await Promise.all([genomes.waitForSync(60_000), pods.waitForSync(60_000)]);
    const [port] = await pickFreePorts(1);
    operator = spawnOperator({
      kubeconfigPath: cluster.operatorKubeconfig,
      namespace: SYSTEM,
      healthListen: `127.0.0.1:${port}`,
    });
    cluster.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(genomeManifest(genome(signedBy(signer)), 'app', NS)),
    );
    const ready = (g: GenomeResource) =>
      g.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    await until(genomes, 1, ready, performance.now());
    const { configMapName = '', genomeId = '' } = genomes.list()[0]?.status ?? {};

    console.log(`readiness gate benchmark: ${PODS} gated pods of one Genome, one control plane\n`);
    // Pods need their namespace's default ServiceAccount, which the controller manager makes.
    while (
      !(await core.listNamespacedServiceAccount({ namespace: NS })).items.some(
        (a) => a.metadata?.name === 'default',
      )
    )
      await new Promise((r) => setTimeout(r, 100));
    const names = Array.from({ length: PODS }, (_, i) => `p-${i}`);
    await pool(names, 16, (name) =>
      core.createNamespacedPod({ namespace: NS, body: gatedPod(name, configMapName, genomeId) }),
    );
    const opened = await until(pods, PODS, (p) => gateOf(p) === 'True', performance.now());
    console.log(`${PODS} new pods → every gate True:            ${(opened / 1000).toFixed(2)} s`);

    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const baseline = await apiServerAlone(core, names, round);
      const revoked = await gatesAfter(
        pods,
        () => setTrust({ [other.keyId]: other.publicKey }),
        'False',
      );
      const restored = await gatesAfter(pods, () => setTrust(keys), 'True');
      rounds.push({ baseline, revoked, restored });
      console.log(
        `round ${round}: API server alone ${secs(baseline)} (${Math.round(PODS / (baseline / 1000))} writes/s at ${CONCURRENCY} concurrent); ` +
          `revocation → every gate False ${secs(revoked.all)} (first ${ms(revoked.first)}), ` +
          `restored → every gate True ${secs(restored.all)} (first ${ms(restored.first)})`,
      );
    }
    const ratios = (pick: (r: Round) => number) => rounds.map((r) => pick(r) / r.baseline);
    const line = (what: string, pick: (r: Round) => number, first: (r: Round) => number) => {
      const each = ratios(pick);
      console.log(
        `${what}:${' '.repeat(Math.max(1, 39 - what.length))}${secs(median(rounds.map(pick)))} median, ` +
          `${median(each).toFixed(2)}× the API server alone (${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)} over ${ROUNDS} rounds); ` +
          `the operator's own latency to the first gate ${ms(median(rounds.map(first)))} median; goal < 2 s`,
      );
    };
    console.log(
      `\nAPI server alone, ${PODS} pods/status patches: ${secs(median(rounds.map((r) => r.baseline)))} median`,
    );
    line(
      'key revocation → every gate False',
      (r) => r.revoked.all,
      (r) => r.revoked.first,
    );
    line(
      'key restored → every gate True',
      (r) => r.restored.all,
      (r) => r.restored.first,
    );
    const metrics = await operatorHealth(port!, '/metrics');
    const writes = [
      ...metrics.text.matchAll(/genome_pod_gate_writes_total\{status="(\w+)"\} (\d+)/g),
    ]
      .map((m) => `${m[1]} ${m[2]}`)
      .join(', ');
    console.log(`gate writes counted by the operator: ${writes}`);
    await Promise.all([genomes.stop(), pods.stop()]);
  } finally {
    await operator?.stop();
    await cluster.stop();
  }
}

await main();

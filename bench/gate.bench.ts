/**
 * The readiness gate at scale: one verified Genome and BENCH_PODS (default 1000) gated pods of
 * it; the time from a key revocation (the trust Secret's write) until every pod's gate
 * condition is False, and from the key's return until every one is True again, beside the API
 * server's own rate for the same writes measured in the same run (the same number of pods/status
 * strategic merge patches, made directly with the same client at the same concurrency).
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
import { startInformer } from '../kube/informer.ts';
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

const PODS = Number(process.env.BENCH_PODS ?? 1000);
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

    // The API server alone: the same writes, made directly, on a condition of the benchmark's.
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
                  message: 'written by the benchmark',
                  lastTransitionTime: new Date().toISOString().slice(0, 19) + 'Z',
                },
              ],
            },
          },
        },
        strategic,
      ),
    );
    const baseline = performance.now() - started;
    console.log(
      `API server alone, ${PODS} pods/status patches:     ${(baseline / 1000).toFixed(2)} s (${Math.round(PODS / (baseline / 1000))} writes/s at ${CONCURRENCY} concurrent)`,
    );

    for (const [what, trusted, status] of [
      ['key revocation → every gate False', { [other.keyId]: other.publicKey }, 'False'],
      ['key restored → every gate True', keys, 'True'],
    ] as const) {
      const since = performance.now();
      setTrust(trusted);
      const ms = await until(pods, PODS, (p) => gateOf(p) === status, since);
      console.log(
        `${what}:${' '.repeat(Math.max(1, 39 - what.length))}${(ms / 1000).toFixed(2)} s (${(ms / baseline).toFixed(2)}× the API server alone; goal < 2 s)`,
      );
    }
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

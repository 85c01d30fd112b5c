/**
 * The operator's caches against what tenants create (issue 19 item 2), on a local control plane
 * of its own: the operator's settled RSS with nothing in the cluster (the baseline), then with
 * BENCH_DEPLOYMENTS (default 10,000) Deployments that do not opt into rollouts, each with
 * BENCH_ANNOTATION_KIB (default 250) KiB of pod template annotations, then with BENCH_PODS
 * (default 1,000) labelled pods with as many annotations. Each is measured twice: the operator
 * that ran while they were created, and a fresh one that lists them at start (what a restart
 * does). Pods stay Pending: no scheduler, no node. The Deployments are paused with 0 replicas,
 * so no ReplicaSet copies their template. BENCH_BUNDLE runs another operator bundle (e.g. one
 * built from an older commit with images/bundle.sh), BENCH_SETTLE_MS sets the idle time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  operatorHealth,
  spawnOperator,
  type OperatorProcess,
} from '../cluster/operator-process.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { GENOME_LABEL } from '../core/api.ts';
import { pool, startBenchCluster, SYSTEM } from './bench-cluster.ts';
import {
  bundleOperator,
  NODE_ARGS,
  OPERATOR_MALLOC_ENV,
  OPERATOR_MALLOC_TEXT,
  settledRss,
} from './operator-run.ts';

const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 10_000);
const PODS = Number(process.env.BENCH_PODS ?? 1_000);
const ANNOTATION_KIB = Number(process.env.BENCH_ANNOTATION_KIB ?? 250);
/**
 * How long the operator is left idle before its RSS is read: it gives memory back 10 s after
 * its last work, at most once a minute (operator/runtime/memory.ts), so 75 s always includes a release.
 */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 75_000);
/** What the issue asks: each set adds less than this to the operator's settled RSS. */
const GOAL_MB = 20;
/** BENCH_OPERATOR_ENV="K=V K=V": more environment for the operator (e.g. malloc tunables). */
const OPERATOR_ENV = Object.fromEntries(
  (process.env.BENCH_OPERATOR_ENV ?? '')
    .split(' ')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const TENANT = 'tenant';
const WRITERS = 16;
const GIB = 1024 ** 3;

/**
 * Room in etcd for every object three times (its creation, and the controllers' status writes,
 * each a whole new revision until the API server compacts, every 5 minutes), and 2 GiB besides.
 */
const etcdQuotaBytes = Math.ceil(2 * GIB + 3 * (DEPLOYMENTS + PODS) * (ANNOTATION_KIB + 4) * 1024);

/** A tenant's annotations: one value of ANNOTATION_KIB KiB (the API server allows 256 KiB). */
const annotations = (i: number) => ({
  'tenant.example/pad': `${i}:`.padEnd(ANNOTATION_KIB * 1024, 'x'),
});

function deployment(i: number) {
  const name = `d-${i}`;
  return {
    metadata: { name },
    spec: {
      paused: true,
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: annotations(i) },
        spec: { containers: [{ name: 'app', image: 'genome.local/none:v1' }] },
      },
    },
  };
}

function pod(i: number) {
  return {
    metadata: {
      name: `p-${i}`,
      labels: { app: 'tenant', [GENOME_LABEL]: 'bench' },
      annotations: annotations(i),
    },
    spec: { containers: [{ name: 'app', image: 'genome.local/none:v1' }] },
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Creates `count` objects with `create`, WRITERS at once; the seconds it took. */
async function createAll(count: number, create: (i: number) => Promise<unknown>) {
  const started = performance.now();
  await pool(range(count), WRITERS, create);
  return (performance.now() - started) / 1000;
}

/** An operator process with its health port. */
interface Running {
  process: OperatorProcess;
  port: number;
  /** Whether it has exited (by a code or a signal: V8 aborts on a full heap). */
  ended(): boolean;
}

async function startOperator(kubeconfigPath: string, bundle: string): Promise<Running> {
  const [port] = await pickFreePorts(1);
  const process = spawnOperator({
    kubeconfigPath,
    namespace: SYSTEM,
    healthListen: `127.0.0.1:${port}`,
    bundle,
    env: { ...OPERATOR_MALLOC_ENV, ...OPERATOR_ENV },
    nodeArgs: NODE_ARGS,
  });
  let ended = false;
  void process.exited.then(() => (ended = true));
  const deadline = performance.now() + 600_000;
  while ((await operatorHealth(port!, '/readyz')).status !== 200) {
    if (ended) throw new Error(await exited(process));
    if (performance.now() > deadline) throw new Error('the operator never became ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { process, port: port!, ended: () => ended };
}

/** How the operator ended (an exit code or a signal) and V8's fatal error, or its last lines. */
async function exited(process: OperatorProcess): Promise<string> {
  const how = await process.exited;
  const lines = process.output().trim().split('\n');
  const fatal = lines.find((l) => l.includes('FATAL ERROR'));
  const last = fatal === undefined ? lines.slice(-3).join('\n  ') : fatal;
  return `the operator exited (${how}): ${last.slice(0, 2000)}`;
}

/** The settled RSS of a running operator, or why it has none (it exited). */
async function settled(operator: Running): Promise<number> {
  const mb = await settledRss(operator.process.pid, SETTLE_MS).catch(() => undefined);
  if (mb === undefined || operator.ended()) throw new Error(await exited(operator.process));
  return mb;
}

/** The V8 heap, used of total, from the operator's /metrics. */
async function heapUsedMb(operator: Running): Promise<string> {
  const { text } = await operatorHealth(operator.port, '/metrics');
  const mb = (name: string) => {
    const value = new RegExp(`^genome_operator_nodejs_heap_size_${name}_bytes (\\S+)$`, 'm').exec(
      text,
    )?.[1];
    return (Number(value) / 1e6).toFixed(0);
  };
  return `${mb('used')} MB of ${mb('total')} MB`;
}

/** One line: the RSS, its difference from the baseline, and the goal. */
async function report(label: string, operator: Running, baseline: number): Promise<void> {
  const mb = await settled(operator).catch((err: Error) => err);
  if (mb instanceof Error) return void console.log(`${label.padEnd(60)} ${mb.message}`);
  const added = mb - baseline;
  console.log(
    `${label.padEnd(60)} ${mb.toFixed(0).padStart(4)} MB  ${added >= 0 ? '+' : ''}${added.toFixed(1)} MB (goal < +${GOAL_MB} MB: ${added < GOAL_MB ? 'met' : 'MISSED'}); V8 heap ${await heapUsedMb(operator)}`,
  );
}

/** The fresh operator's line: it lists what is there at start, as a restarted one does. */
async function reportFresh(
  label: string,
  kubeconfig: string,
  bundle: string,
  baseline: number,
): Promise<void> {
  const started = performance.now();
  const fresh = await startOperator(kubeconfig, bundle).catch((err: Error) => err);
  if (fresh instanceof Error) return void console.log(`${label.padEnd(60)} ${fresh.message}`);
  const readyS = (performance.now() - started) / 1000;
  await report(`${label} (ready in ${readyS.toFixed(1)} s)`, fresh, baseline);
  await fresh.process.stop();
}

async function createDeployments(admin: KubeConfig): Promise<number> {
  const apps = admin.makeApiClient(AppsV1Api);
  return createAll(DEPLOYMENTS, (i) =>
    apps.createNamespacedDeployment({ namespace: TENANT, body: deployment(i) }),
  );
}

async function createPods(admin: KubeConfig): Promise<number> {
  const core = admin.makeApiClient(CoreV1Api);
  return createAll(PODS, (i) => core.createNamespacedPod({ namespace: TENANT, body: pod(i) }));
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'caches-bench-'));
  const bundle = process.env.BENCH_BUNDLE ?? bundleOperator(work);
  const cluster = await startBenchCluster([TENANT], { etcdQuotaBytes });
  let operator: Running | undefined;
  try {
    console.log(
      `operator caches against tenants: ${DEPLOYMENTS} unlabelled Deployments and ${PODS} labelled pods, ${ANNOTATION_KIB} KiB of annotations each, one local control plane (etcd quota ${(etcdQuotaBytes / GIB).toFixed(1)} GiB); node ${NODE_ARGS.join(' ') || '(no flags)'}, ${OPERATOR_MALLOC_TEXT}${Object.keys(OPERATOR_ENV).length > 0 ? ` ${process.env.BENCH_OPERATOR_ENV}` : ''}; RSS settled after ${SETTLE_MS / 1000} s idle\n`,
    );
    operator = await startOperator(cluster.operatorKubeconfig, bundle);
    const baseline = await settled(operator);
    console.log(
      `${'baseline: the operator, nothing in the cluster'.padEnd(60)} ${baseline.toFixed(0).padStart(4)} MB; V8 heap ${await heapUsedMb(operator)}`,
    );
    const deploymentsS = await createDeployments(cluster.admin);
    console.log(
      `created ${DEPLOYMENTS} Deployments (${((DEPLOYMENTS * ANNOTATION_KIB) / 1024 / 1024).toFixed(2)} GiB of annotations) in ${deploymentsS.toFixed(1)} s`,
    );
    await report(`+ ${DEPLOYMENTS} unlabelled Deployments, running operator`, operator, baseline);
    await reportFresh(
      `+ ${DEPLOYMENTS} unlabelled Deployments, fresh operator`,
      cluster.operatorKubeconfig,
      bundle,
      baseline,
    );
    const podsS = await createPods(cluster.admin);
    console.log(
      `created ${PODS} labelled pods (${((PODS * ANNOTATION_KIB) / 1024).toFixed(0)} MiB of annotations) in ${podsS.toFixed(1)} s`,
    );
    await report(`+ ${PODS} labelled pods too, running operator`, operator, baseline);
    await reportFresh(
      `+ ${PODS} labelled pods too, fresh operator`,
      cluster.operatorKubeconfig,
      bundle,
      baseline,
    );
  } catch (err) {
    console.log((err as Error).message);
    process.exitCode = 1;
  } finally {
    await operator?.process.stop();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

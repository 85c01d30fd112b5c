/**
 * The operator against a local control plane of its own, beside the API server's own write
 * rate measured in the same run: apply → Ready latency for single Genomes; N Genomes of 50 KB
 * converging from a cold operator start, beside the time the API server takes for the same
 * writes (N ConfigMaps and N status updates, made directly); a key revocation reaching all N;
 * the operator's RSS with them cached, its peak and settled, beside the N genomes' own size.
 * BENCH_GENOMES (default 1000) and BENCH_GENOME_KB (default 50) set N and the size;
 * BENCH_SINGLE (default 50) the single Genomes; the smoke test scales them down.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import {
  operatorHealth,
  spawnOperator,
  type OperatorProcess,
} from '../cluster/operator-process.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import type { GenomeResource } from '../core/api.ts';
import { genomeManifest } from '../core/manifest.ts';
import { genomeOfSize, keyPair, signWith } from '../test/builders/index.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import {
  percentile,
  pool,
  startBenchCluster,
  SYSTEM,
  until,
  type BenchCluster,
} from './bench-cluster.ts';
import {
  bundleOperator,
  NODE_ARGS,
  OPERATOR_MALLOC_ENV,
  OPERATOR_MALLOC_TEXT,
  peakRssMb,
  rssMb,
  settledRss,
} from './operator-run.ts';

const N = Number(process.env.BENCH_GENOMES ?? 1000);
const SINGLE = Number(process.env.BENCH_SINGLE ?? 50);
/** The canonical size of each of the N Genomes' genome, in KB of 1,000 bytes (BENCH_GENOME_KB). */
const GENOME_KB = Number(process.env.BENCH_GENOME_KB ?? 50);
const WORKERS = 16;
/** BENCH_HEAPSNAPSHOT=dir: a V8 heap snapshot of the operator with the N Genomes cached. */
const SNAPSHOT_DIR = process.env.BENCH_HEAPSNAPSHOT;
/** How long the operator is left idle before its settled RSS is read (BENCH_SETTLE_MS). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 30_000);
const signer = keyPair('bench-key');
const GROUP = { group: 'mathison.io', version: 'v1alpha1', plural: 'genomes' };

const readyOf = (g: GenomeResource) =>
  g.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' &&
  g.status.observedGeneration === g.metadata.generation;
const refusedOf = (g: GenomeResource) =>
  g.status?.conditions?.find((c) => c.type === 'Verified')?.status === 'False';

/** `count` distinct signed Genomes of about `bytes` each (distinct versions: distinct ids). */
async function createGenomes(kc: KubeConfig, namespace: string, count: number, bytes: number) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { signature: _s, ...unsigned } = genomeOfSize(bytes, signer);
  const names = Array.from({ length: count }, (_, i) => `g-${i}`);
  const genomes = names.map((_, i) => signWith({ ...unsigned, version: `1.0.${i}` }, signer));
  await pool(names, 16, (name) => {
    const genome = genomes[Number(name.slice(2))]!;
    return custom.createNamespacedCustomObject({
      ...GROUP,
      namespace,
      body: genomeManifest(genome, name, namespace),
    });
  });
  return { genome: genomes[0]!, names };
}

/** Deletes every Genome of `namespace` and waits until the API server lists none. */
async function removeGenomes(kc: KubeConfig, namespace: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.deleteCollectionNamespacedCustomObject({ ...GROUP, namespace });
  for (;;) {
    const list = (await custom.listNamespacedCustomObject({ ...GROUP, namespace })) as {
      items: unknown[];
    };
    if (list.items.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The API server's own rate for the operator's writes: N ConfigMaps, then N status applies
 * (timed apart: a revocation is the status writes alone).
 */
async function apiServerWrites(
  kc: KubeConfig,
  namespace: string,
  names: string[],
  genomeText: string,
): Promise<{ configMapsMs: number; statusMs: number }> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const started = performance.now();
  await pool(names, WORKERS, (name) =>
    core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name: `${name}-cm` },
        immutable: true,
        data: { 'genome.json': genomeText },
      },
    }),
  );
  const configMapsMs = performance.now() - started;
  await pool(names, WORKERS, (name) =>
    custom.patchNamespacedCustomObjectStatus(
      {
        ...GROUP,
        namespace,
        name,
        body: {
          apiVersion: 'mathison.io/v1alpha1',
          kind: 'Genome',
          metadata: { name },
          status: { genomeId: 'x'.repeat(64) },
        },
        fieldManager: 'bench',
        force: true,
      },
      apply,
    ),
  );
  return { configMapsMs, statusMs: performance.now() - started - configMapsMs };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'operator-bench-'));
  const bundle = bundleOperator(work);
  const cluster = await startBenchCluster(['bench', 'baseline', 'single']);
  const { admin, setTrust } = cluster;
  let operator: OperatorProcess | undefined;
  try {
    setTrust({ [signer.keyId]: signer.publicKey });
    console.log(
      `operator benchmark: ${N} Genomes of ${GENOME_KB} KB (${rawMb().toFixed(0)} MB of genomes), ${WORKERS} workers, one local control plane; node ${NODE_ARGS.join(' ') || '(no flags)'}, ${OPERATOR_MALLOC_TEXT}\n`,
    );
    const { genome, names } = await createGenomes(admin, 'bench', N, GENOME_KB * 1000);
    await createGenomes(admin, 'baseline', N, GENOME_KB * 1000);
    const { configMapsMs, statusMs } = await apiServerWrites(
      admin,
      'baseline',
      names,
      `${JSON.stringify(genome, null, 2)}\n`,
    );
    const limitMs = configMapsMs + statusMs;
    console.log(
      `API server alone, ${N} ConfigMaps + ${N} status applies: ${(limitMs / 1000).toFixed(2)} s (${Math.round((2 * N) / (limitMs / 1000))} writes/s; the status applies alone ${(statusMs / 1000).toFixed(2)} s)`,
    );
    // The operator watches every namespace: the baseline's Genomes must be gone before it
    // starts, or it would converge 2N Genomes where the baseline wrote for N.
    await removeGenomes(admin, 'baseline');

    const informer = startInformer<GenomeResource & KubernetesObject>(admin, {
      path: '/apis/mathison.io/v1alpha1/namespaces/bench/genomes',
    });
    await informer.waitForSync(60_000);
    const [port] = await pickFreePorts(1);
    const spawned = performance.now();
    operator = spawnOperator({
      kubeconfigPath: cluster.operatorKubeconfig,
      namespace: SYSTEM,
      healthListen: `127.0.0.1:${port}`,
      args: [`--workers=${WORKERS}`],
      bundle,
      env: { ...OPERATOR_MALLOC_ENV },
      nodeArgs: [
        ...NODE_ARGS,
        ...(SNAPSHOT_DIR
          ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOT_DIR}`]
          : []),
      ],
    });
    const booted = (async () => {
      while ((await operatorHealth(port!, '/readyz')).status !== 200)
        await new Promise((r) => setTimeout(r, 50));
      return { ms: performance.now() - spawned, peakMb: peakRssMb(operator!.pid) };
    })();
    const coldMs = await until(informer, N, readyOf, spawned);
    const boot = await booted;
    console.log(
      `operator process start → /readyz 200:  ${(boot.ms / 1000).toFixed(2)} s (node, the bundle, cache sync); RSS peak by then ${boot.peakMb.toFixed(0)} MB`,
    );
    console.log(
      `cold start → ${N} Ready:              ${(coldMs / 1000).toFixed(2)} s (${(coldMs / limitMs).toFixed(2)}× the API server alone; goal ≤ 2×)`,
    );
    console.log(
      `operator RSS with ${N} cached, at once:  ${rssMb(operator.pid).toFixed(0)} MB; ${await memoryBreakdown(port!)}`,
    );
    // V8 gives memory back once allocation stops (its memory reducer, after a few idle seconds):
    // the steady state is what a pod's memory request must hold.
    const settled = await settledRss(operator.pid, SETTLE_MS);
    console.log(
      `operator RSS with ${N} cached, settled:  ${settled.toFixed(0)} MB after ${SETTLE_MS / 1000} s idle (goal < 200 MB); ${await memoryBreakdown(port!)}`,
    );
    console.log(
      `memory: N ${N} Genomes of ${GENOME_KB} KB, ${rawMb().toFixed(0)} MB of genomes; operator RSS peak ${peakRssMb(operator.pid).toFixed(0)} MB (up to here: list, cold start), settled ${settled.toFixed(0)} MB`,
    );
    if (process.env.BENCH_SMAPS) console.log(smapsSummary(operator.pid));
    if (SNAPSHOT_DIR) await heapSnapshot(operator, SNAPSHOT_DIR);

    await trustChanges(cluster, informer, port!, statusMs);
    await informer.stop();

    const single = startInformer<GenomeResource & KubernetesObject>(admin, {
      path: '/apis/mathison.io/v1alpha1/namespaces/single/genomes',
    });
    await single.waitForSync(60_000);
    const small = genomeOfSize(4_000, signer);
    const custom = admin.makeApiClient(CustomObjectsApi);
    const latencies: number[] = [];
    for (let i = 0; i < SINGLE; i++) {
      const started = performance.now();
      const done = until(single, i + 1, readyOf, started);
      await custom.createNamespacedCustomObject({
        ...GROUP,
        namespace: 'single',
        body: genomeManifest(small, `s-${i}`, 'single'),
      });
      latencies.push(await done);
    }
    await single.stop();
    console.log(
      `apply → Ready, single 4 KB Genomes (${SINGLE}): p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms (goal p99 < 1 s)`,
    );
    const metrics = await operatorHealth(port!, '/metrics');
    const verified = /genome_verifications_total\{result="Verified"\} (\d+)/.exec(
      metrics.text,
    )?.[1];
    const heap = /^genome_operator_nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics.text)?.[1];
    console.log(
      `verifications computed by the operator: ${verified ?? '?'} Verified; heap used now ${(Number(heap) / 1e6).toFixed(0)} MB`,
    );
  } finally {
    await operator?.stop();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A key revocation, then a policy edit, each refusing all N Genomes, timed against the API
 * server's own N status applies, with what the operator read back and verified again meanwhile;
 * each undone after.
 */
async function trustChanges(
  cluster: BenchCluster,
  informer: Informer<GenomeResource & KubernetesObject>,
  port: number,
  statusMs: number,
): Promise<void> {
  const { setTrust } = cluster;
  const beforeRevocation = await workCounts(port);
  const revoked = performance.now();
  setTrust({});
  const revokeMs = await until(informer, N, refusedOf, revoked);
  console.log(
    `key revocation → ${N} Verified=False:  ${(revokeMs / 1000).toFixed(2)} s (${(revokeMs / statusMs).toFixed(2)}× the API server's ${N} status applies alone; goal ≤ 1.2×); ${countsSince(beforeRevocation, await workCounts(port))}`,
  );
  setTrust({ [signer.keyId]: signer.publicKey });
  await until(informer, N, readyOf);

  // A policy edit that refuses every Genome: a required signer nobody has.
  const beforeEdit = await workCounts(port);
  const edited = performance.now();
  cluster.kubectl(['apply', '-f', '-'], JSON.stringify(STRICT_POLICY));
  const editMs = await until(informer, N, refusedOf, edited);
  console.log(
    `policy edit → ${N} Verified=False:     ${(editMs / 1000).toFixed(2)} s (${(editMs / statusMs).toFixed(2)}× the API server's ${N} status applies alone; goal ≤ 1.2×); ${countsSince(beforeEdit, await workCounts(port))}`,
  );
  cluster.kubectl(['delete', 'gtp', STRICT_POLICY.metadata.name]);
  await until(informer, N, readyOf);
}

/** A policy that refuses every Genome: it requires a signer no genome has. */
const STRICT_POLICY = {
  apiVersion: 'mathison.io/v1alpha1',
  kind: 'GenomeTrustPolicy',
  metadata: { name: 'bench-strict' },
  spec: { mode: 'Enforce', requiredKeyIds: ['nobody-signs-with-this'] },
};

/** The operator's genome reads and genome examinations so far (from /metrics). */
async function workCounts(port: number): Promise<{ reads: number; examined: number }> {
  const { text } = await operatorHealth(port, '/metrics');
  const reads = Number(/^genome_text_reads_total (\d+)$/m.exec(text)?.[1] ?? NaN);
  const examined = [...text.matchAll(/^genome_verifications_total\{[^}]*\} (\d+)$/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
  return { reads, examined };
}

/** What the operator did between two counts: genomes read back and genomes verified again. */
function countsSince(
  before: { reads: number; examined: number },
  after: { reads: number; examined: number },
): string {
  return `${after.reads - before.reads} genomes read back, ${after.examined - before.examined} genomes verified again`;
}

/** The N genomes' canonical bytes, in MB: what the operator would hold if it held them all. */
function rawMb(): number {
  return (N * GENOME_KB * 1000) / 1e6;
}

/** BENCH_SMAPS=1: the operator's resident memory by mapping (binary, [heap], anonymous). */
function smapsSummary(pid: number): string {
  const by = new Map<string, number>();
  const anonymous: { size: number; rss: number }[] = [];
  const anonymousBySize = new Map<number, { count: number; rss: number }>();
  let name = '';
  let size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      name = mapping[3] || '(anonymous)';
      size = (parseInt(mapping[2]!, 16) - parseInt(mapping[1]!, 16)) / 1024;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    by.set(name, (by.get(name) ?? 0) + Number(rss[1]));
    if (name === '(anonymous)') {
      const bucket = anonymousBySize.get(size) ?? { count: 0, rss: 0 };
      bucket.count += 1;
      bucket.rss += Number(rss[1]);
      anonymousBySize.set(size, bucket);
    }
    if (name === '(anonymous)' && Number(rss[1]) >= 2048)
      anonymous.push({ size, rss: Number(rss[1]) });
  }
  const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
  return [
    ...[...by]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([n, kb]) => `  ${mb(kb).padStart(9)} ${n}`),
    `  anonymous mappings by size: ${[...anonymousBySize]
      .sort((a, b) => b[1].rss - a[1].rss)
      .slice(0, 8)
      .map(([sz, m]) => `${m.count} × ${mb(sz)} (${mb(m.rss)} resident)`)
      .join(', ')}`,
    `  anonymous mappings of 2 MB or more, resident of size: ${anonymous
      .sort((a, b) => b.rss - a.rss)
      .map((m) => `${mb(m.rss)} of ${mb(m.size)}`)
      .join(', ')}`,
  ].join('\n');
}

/** The V8 heap (used of total) and the memory outside it, from the operator's /metrics. */
async function memoryBreakdown(port: number): Promise<string> {
  const { text } = await operatorHealth(port, '/metrics');
  const mb = (name: string) => {
    const value = new RegExp(`^genome_operator_${name} (\\S+)$`, 'm').exec(text)?.[1];
    return `${(Number(value) / 1e6).toFixed(0)} MB`;
  };
  const spaces = [
    ...text.matchAll(
      /^genome_operator_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm,
    ),
  ]
    .filter(([, , bytes]) => Number(bytes) >= 5e6)
    .map(([, space, bytes]) => `${space} ${(Number(bytes) / 1e6).toFixed(0)}`)
    .join(', ');
  const held = /^genome_texts_held (\d+)$/m.exec(text)?.[1] ?? '?';
  const reads = /^genome_text_reads_total (\d+)$/m.exec(text)?.[1] ?? '?';
  return `V8 heap ${mb('nodejs_heap_size_used_bytes')} used of ${mb('nodejs_heap_size_total_bytes')} (${spaces}), external ${mb('nodejs_external_memory_bytes')}, genome texts held ${held} (read back so far ${reads})`;
}

/** Signals the operator to write a heap snapshot into `dir` and waits for the file. */
async function heapSnapshot(operator: OperatorProcess, dir: string): Promise<void> {
  const before = new Set(readdirSync(dir));
  operator.kill('SIGUSR2');
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const made = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (made.length > 0) {
      console.log(`heap snapshot: ${join(dir, made[0]!)}`);
      return;
    }
  }
}

await main();

/**
 * What the operator benchmarks share: a local control plane of their own with both CRDs and the
 * chart's default trust policy (test keys allowed, as make dev), the operator's namespace,
 * trust Secret and RBAC, and a kubeconfig for its ServiceAccount.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { kubectlBinary } from '../cluster/binaries.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { installCrdsAndDefaultPolicy } from '../cluster/crds.ts';
import { operatorRbac, writeTokenKubeconfig } from '../cluster/operator-process.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';
import { loadKubeConfig } from '../cluster/readiness.ts';
import type { Informer } from '../kube/informer.ts';

/** The operator's namespace in the benchmarks. */
export const SYSTEM = 'genome-system';

/** A benchmark's cluster. */
export interface BenchCluster {
  cp: ControlPlane;
  /** The admin's client configuration. */
  admin: KubeConfig;
  /** A kubeconfig that authenticates as the operator's ServiceAccount. */
  operatorKubeconfig: string;
  kubectl(args: string[], input?: string): string;
  /** Replaces the trust Secret's keys (id → base64 SPKI). */
  setTrust(keys: Record<string, string>): void;
  stop(): Promise<void>;
}

/** Runs `fn` on each item with at most `limit` at once. */
export async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** The value below which `p` percent of `values` fall. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/**
 * Starts the control plane and prepares it for the operator; `namespaces` are created too.
 * `etcdQuotaBytes` raises etcd's 2 GiB quota for benchmarks that store gigabytes.
 */
export async function startBenchCluster(
  namespaces: string[],
  options: { etcdQuotaBytes?: number } = {},
): Promise<BenchCluster> {
  const cp = await startControlPlane({ log: () => {}, etcdQuotaBytes: options.etcdQuotaBytes });
  const dir = mkdtempSync(join(tmpdir(), 'genome-operator-bench-'));
  const stop = async () => {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const kubectl = (args: string[], input?: string) => {
      const out = spawnSync(kubectlBinary(), ['--kubeconfig', cp.kubeconfigPath, ...args], {
        input,
        encoding: 'utf8',
        env: environmentWithoutProxies(),
      });
      if (out.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
      return out.stdout;
    };
    const setTrust = (keys: Record<string, string>) => {
      const secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'trusted-keys',
          namespace: SYSTEM,
          labels: { 'genome.mathison.io/trusted-keys': 'true' },
        },
        stringData: keys,
      };
      // replace (apply would keep a key removed from stringData)
      kubectl(['replace', '-f', '-'], JSON.stringify(secret));
    };
    await installCrdsAndDefaultPolicy(kubectl, { allowTestKeys: true });
    for (const ns of [SYSTEM, ...namespaces]) kubectl(['create', 'namespace', ns]);
    kubectl(['create', 'secret', 'generic', 'trusted-keys', '-n', SYSTEM]);
    const rbac = operatorRbac(SYSTEM).map((o) => JSON.stringify(o));
    kubectl(['apply', '-f', '-'], rbac.join('\n'));
    const token = kubectl(['create', 'token', 'genome-operator', '-n', SYSTEM, '--duration=2h']);
    const operatorKubeconfig = join(dir, 'kubeconfig');
    writeTokenKubeconfig(cp.kubeconfigPath, token.trim(), operatorKubeconfig);
    const admin = loadKubeConfig(cp.kubeconfigPath);
    return { cp, admin, operatorKubeconfig, kubectl, setTrust, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves when `check` holds for `count` objects of the informer's cache; the time it took. */
export function until<T extends KubernetesObject>(
  informer: Informer<T>,
  count: number,
  check: (o: T) => boolean,
  since = performance.now(),
): Promise<number> {
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(
      () => reject(new Error(`timed out: ${informer.list().filter(check).length}/${count}`)),
      600_000,
    );
    const test = () => {
      if (informer.list().filter(check).length < count) return;
      clearTimeout(timeout);
      stop();
      resolve(performance.now() - since);
    };
    const stop = informer.onChange(test);
    test();
  });
}

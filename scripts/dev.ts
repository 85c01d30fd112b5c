// `make dev`: install the product with the Helm chart on the KUBECONFIG cluster, or run it as
// local processes against a local control plane started here; Ctrl-C undoes either.
// Usage: tsx scripts/dev.ts (HELM_VALUES=file[,file] adds values files to the chart install)
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { kubectlBinary } from '../cluster/binaries.ts';
import { startControlPlane } from '../cluster/control-plane.ts';
import { nodeUnsupportedReason, startNodeCluster } from '../cluster/node.ts';
import { isClusterReady } from '../cluster/readiness.ts';
import { clusterStateDir, stableKubeconfigPath } from '../cluster/state-dir.ts';
import { chartSteps } from './dev/chart-step.ts';
import type { DevContext, DevStep } from './dev/context.ts';
import { devSteps } from './dev/steps.ts';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';

const howToUse: DevStep = {
  name: 'show how to reach the cluster',
  run: async ({ kubeconfigPath, kubectl }) => {
    const path = kubectl.includes('/') ? `export PATH=${dirname(kubectl)}:$PATH; ` : '';
    console.log(
      `use the cluster with:\n  ${path}export KUBECONFIG=${kubeconfigPath}; kubectl get gn -A`,
    );
  },
};

interface Cluster {
  kubeconfigPath: string;
  node: DevContext['node'];
  importArchive?: DevContext['importArchive'];
  stop(): Promise<void>;
}

/**
 * Starts a local control plane, with a node unless NODE=0 or the machine cannot run one (it
 * says why), and copies its kubeconfig to the stable path (.cluster/kubeconfig),
 * which it removes again on stop. Refuses, before starting anything, when that path already
 * belongs to a live cluster (`make cluster-up`, or another `make dev`).
 */
async function startLocalCluster(): Promise<Cluster> {
  const stable = stableKubeconfigPath();
  const live = existsSync(stable) && (await isClusterReady(stable, 2_000));
  if (existsSync(join(clusterStateDir(), 'state.json')) || live)
    throw new Error(
      `a local cluster is already running with ${stable} (make cluster-up, or another make dev): ` +
        `use it with KUBECONFIG=${stable} make dev, or stop it first (make cluster-down, or Ctrl-C)`,
    );
  const why = process.env.GENOME_NODE === '0' ? 'NODE=0' : nodeUnsupportedReason();
  if (why)
    console.log(`[dev] starting the control plane without a node (pods stay Pending): ${why}`);
  const withNode = why ? undefined : await startNodeCluster();
  const cp = withNode ?? (await startControlPlane());
  mkdirSync(dirname(stable), { recursive: true });
  copyFileSync(cp.kubeconfigPath, stable);
  console.log(
    `local ${why ? 'control plane' : 'control plane and node'} running; kubeconfig written to ${stable}`,
  );
  const stop = async () => {
    rmSync(stable, { force: true });
    // The folder too, unless something else (cluster-up's state) lives there.
    if (readdirSync(dirname(stable)).length === 0) rmSync(dirname(stable), { recursive: true });
    await cp.stop();
  };
  if (!withNode) return { kubeconfigPath: stable, node: 'none', stop };
  const importArchive = (archive: string) => {
    withNode.node.ctr(['-n', 'k8s.io', 'images', 'import', '--platform', 'linux/amd64', archive]);
  };
  return { kubeconfigPath: stable, node: 'local', importArchive, stop };
}

async function useOrStartCluster(): Promise<Cluster> {
  const external = process.env.KUBECONFIG;
  if (!external) return startLocalCluster();
  const kc = new PooledKubeConfig();
  kc.loadFromDefault();
  if (!(await isClusterReady(kc, 5_000))) {
    throw new Error(
      `the cluster in KUBECONFIG=${external} (${kc.getCurrentCluster()?.server}) does not answer /readyz`,
    );
  }
  const nodes = (await kc.makeApiClient(CoreV1Api).listNode()).items.length;
  if (nodes === 0)
    throw new Error(
      `the cluster in KUBECONFIG=${external} has no node: the chart's pods cannot run there`,
    );
  console.log(
    `using the cluster in KUBECONFIG (${kc.getCurrentCluster()?.server}, ${nodes} node(s)); ` +
      'starting no control plane, installing with the Helm chart',
  );
  return { kubeconfigPath: external, node: 'cluster', stop: async () => {} };
}

async function main(): Promise<void> {
  const undo: Array<() => Promise<void>> = [];
  let cluster: Cluster | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (code: number) => {
    stopping ??= (async () => {
      for (const step of undo.reverse()) await step().catch((err: unknown) => console.error(err));
      await cluster?.stop();
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  try {
    cluster = await useOrStartCluster();
    const ctx: DevContext = {
      kubeconfigPath: cluster.kubeconfigPath,
      kubectl: kubectlBinary(),
      node: cluster.node,
      importArchive: cluster.importArchive,
    };
    const steps = process.env.KUBECONFIG ? chartSteps : devSteps;
    for (const step of [...steps, howToUse]) {
      console.log(`[dev] ${step.name}`);
      const cleanup = await step.run(ctx);
      if (cleanup) undo.push(cleanup);
    }
  } catch (err) {
    console.error(`[dev] ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
  console.log('[dev] running; Ctrl-C to stop');
  // Nothing else keeps the event loop alive while we wait for a signal.
  setInterval(() => {}, 1 << 30);
}

await main();

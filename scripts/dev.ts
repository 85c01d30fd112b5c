// `make dev`: run the product against the KUBECONFIG cluster, or against a local control plane
// started here and stopped on Ctrl-C. Usage: tsx scripts/dev.ts
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { kubectlBinary } from '../cluster/binaries.ts';
import { startControlPlane } from '../cluster/control-plane.ts';
import { isClusterReady } from '../cluster/readiness.ts';
import { devSteps, type DevContext, type DevStep } from './dev/steps.ts';

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
  stop(): Promise<void>;
}

async function useOrStartCluster(): Promise<Cluster> {
  const external = process.env.KUBECONFIG;
  if (!external) {
    const cp = await startControlPlane();
    return { kubeconfigPath: cp.kubeconfigPath, stop: cp.stop };
  }
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (!(await isClusterReady(kc, 5_000))) {
    throw new Error(
      `the cluster in KUBECONFIG=${external} (${kc.getCurrentCluster()?.server}) does not answer /readyz`,
    );
  }
  console.log(
    `using the cluster in KUBECONFIG (${kc.getCurrentCluster()?.server}); starting no control plane`,
  );
  return { kubeconfigPath: external, stop: async () => {} };
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
    const ctx: DevContext = { kubeconfigPath: cluster.kubeconfigPath, kubectl: kubectlBinary() };
    for (const step of [...devSteps, howToUse]) {
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

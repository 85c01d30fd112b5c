import { spawnSync } from 'node:child_process';
import { environmentWithoutProxies } from '../../cluster/processes.ts';

/**
 * What the dev steps share: the context each gets, the step itself, and kubectl on the cluster. A file of its own so the
 * steps (steps.ts, operator-step.ts, sample-step.ts, chart-step.ts) import it, never each other
 * in a circle.
 */

/** What every dev step gets: the cluster it works on. */
export interface DevContext {
  kubeconfigPath: string;
  kubectl: string;
  /** Where pods run: the local node dev started, the nodes of a KUBECONFIG cluster, or none. */
  node: 'local' | 'cluster' | 'none';
  /** On the local node dev started: imports an OCI image archive into its containerd. */
  importArchive?: (archive: string) => void;
  /** How the images step put the product image on the nodes (unset before it ran). */
  images?: 'node' | 'kind' | 'user';
  /** The trust Secret holding the TEST key, and its namespace (the chart names its own). */
  trustSecret?: string;
  namespace?: string;
}

/** One thing `make dev` does once the cluster is ready; it may return how to undo it on exit. */
export interface DevStep {
  name: string;
  run(ctx: DevContext): Promise<void | (() => Promise<void>)>;
}

/** Runs kubectl on the dev cluster (no proxies); its stdout, or throws with its stderr. */
export function devKubectl(ctx: DevContext, args: string[], input?: string): string {
  const out = spawnSync(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, ...args], {
    input,
    encoding: 'utf8',
    env: environmentWithoutProxies(),
  });
  if (out.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr.trim()}`);
  return out.stdout;
}

import type { TestProject } from 'vitest/node';
import { nodeUnsupportedReason, startNodeCluster } from '../../cluster/node.ts';
import type { NodeRanges } from '../../cluster/node-ranges.ts';

/** What the node tests need to know about the node the run started. */
export interface NodeFacts {
  ranges: NodeRanges;
  namespacePid: number;
  binDir: string;
  containerdSocket: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The node of the node tests' cluster (test/node/global-setup.ts). */
    node: NodeFacts;
  }
}

/** Starts a control plane with a node for test/node/; returns the teardown that removes all of it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reason = nodeUnsupportedReason();
  if (reason)
    throw new Error(`the node tests cannot run here: ${reason} (make test NODE=0 leaves them out)`);
  const cluster = await startNodeCluster();
  project.provide('kubeconfig', cluster.kubeconfigPath);
  project.provide('node', {
    ranges: cluster.node.host.ranges,
    namespacePid: cluster.node.namespacePid,
    binDir: cluster.node.paths.binDir,
    containerdSocket: cluster.node.paths.containerdSocket,
  });
  const previous = process.env.KUBECONFIG;
  process.env.KUBECONFIG = cluster.kubeconfigPath;
  return async () => {
    if (previous === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = previous;
    await cluster.stop();
  };
}

import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../cluster/control-plane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of an admin kubeconfig for the cluster the integration tests run against. */
    kubeconfig: string;
  }
}

/**
 * Starts a local control plane for the integration tests, or uses the cluster named by
 * GENOME_TEST_KUBECONFIG; returns the teardown that stops what it started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const previous = process.env.KUBECONFIG;
  const external = process.env.GENOME_TEST_KUBECONFIG;
  const cp = external ? undefined : await startControlPlane();
  const kubeconfig = cp?.kubeconfigPath ?? resolve(external ?? '');
  project.provide('kubeconfig', kubeconfig);
  // For child processes (kubectl, the webhook, the operator) that read the standard variable.
  process.env.KUBECONFIG = kubeconfig;
  return async () => {
    if (previous === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = previous;
    await cp?.stop();
  };
}

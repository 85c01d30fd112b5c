import { join } from 'node:path';

const REPO_ROOT = join(import.meta.dirname, '..');

/**
 * The directory where `make cluster-up` and `make dev` keep their state and the kubeconfig they
 * print: GENOME_CLUSTER_DIR when set (tests use a temporary one), else `.cluster/` in the
 * repository.
 */
export function clusterStateDir(): string {
  return process.env.GENOME_CLUSTER_DIR || join(REPO_ROOT, '.cluster');
}

/** The stable kubeconfig path that `make cluster-up` and `make dev` write and print. */
export function stableKubeconfigPath(): string {
  return join(clusterStateDir(), 'kubeconfig');
}

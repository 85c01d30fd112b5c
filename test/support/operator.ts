import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import {
  operatorHealth,
  operatorRbac,
  spawnOperator,
  writeTokenKubeconfig,
  type OperatorProcess,
} from '../../cluster/operator-process.ts';
import { pickFreePorts } from '../../cluster/ports.ts';
import type { GenomeResource } from '../../core/api.ts';
import { kubectlBinary } from '../../cluster/binaries.ts';
import { environmentWithoutProxies } from '../../cluster/processes.ts';
import { eventually, kubeClient, kubeconfigPath, kubectl as kubectlAsync } from './cluster.ts';

/** An operator process started by a test, with its health port. */
export interface RunningOperator extends OperatorProcess {
  port: number;
}

const tempDirs: string[] = [];

/**
 * Applies config/rbac/operator.yaml for an operator in `namespace` and returns a kubeconfig
 * that authenticates as its ServiceAccount (a bound token), not as the admin.
 */
export async function operatorCredentials(
  namespace: string,
  admin = kubeconfigPath(),
): Promise<string> {
  const rbac = operatorRbac(namespace).map((o) => JSON.stringify(o));
  kubectlAs(admin, ['apply', '-f', '-'], rbac.join('\n'));
  const token = kubectlAs(admin, [
    'create',
    'token',
    'genome-operator',
    '-n',
    namespace,
    '--duration=2h',
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'genome-operator-'));
  tempDirs.push(dir);
  const path = join(dir, 'kubeconfig');
  writeTokenKubeconfig(admin, token.trim(), path);
  return path;
}

/** Runs kubectl against the cluster of the `admin` kubeconfig; throws on failure. */
export function kubectlAs(admin: string, args: string[], input?: string): string {
  const out = spawnSync(kubectlBinary(), ['--kubeconfig', admin, ...args], {
    input,
    encoding: 'utf8',
    env: environmentWithoutProxies(),
  });
  if (out.status !== 0) {
    throw new Error(`kubectl ${args.join(' ')} exited ${out.status}: ${out.stderr.trim()}`);
  }
  return out.stdout;
}

/** Removes the RBAC objects and the temp kubeconfigs of operatorCredentials. */
export async function removeOperatorCredentials(
  namespace: string,
  admin = kubeconfigPath(),
): Promise<void> {
  const cluster = operatorRbac(namespace).filter((o) => String(o.kind).startsWith('Cluster'));
  for (const o of cluster) {
    const name = (o.metadata as { name: string }).name;
    const args = ['delete', String(o.kind).toLowerCase(), name, '--ignore-not-found'];
    await Promise.resolve()
      .then(() => kubectlAs(admin, args))
      .catch(() => undefined);
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Starts the operator as its own process and waits until /readyz answers 200 (or `waitReady` is false). */
export async function startOperator(options: {
  namespace: string;
  kubeconfig: string;
  identity?: string;
  args?: string[];
  waitReady?: boolean;
}): Promise<RunningOperator> {
  const [port] = await pickFreePorts(1);
  const operator = spawnOperator({
    kubeconfigPath: options.kubeconfig,
    namespace: options.namespace,
    healthListen: `127.0.0.1:${port}`,
    ...(options.identity && { identity: options.identity }),
    ...(options.args && { args: options.args }),
  });
  if (options.waitReady !== false) {
    try {
      await eventually(
        'the operator to be ready',
        async () => {
          if (operator.exitCode() !== null)
            throw new Error(`operator exited with ${operator.exitCode()}`);
          return (await operatorHealth(port!, '/readyz')).status === 200 ? true : undefined;
        },
        60_000,
      );
    } catch (err) {
      await operator.stop();
      throw new Error(`${(err as Error).message}\n--- operator output ---\n${operator.output()}`, {
        cause: err,
      });
    }
  }
  return { ...operator, port: port! };
}

/** Reads a Genome as the admin. */
export async function readGenome(
  namespace: string,
  name: string,
): Promise<GenomeResource | undefined> {
  try {
    return (await kubeClient().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'mathison.io',
      version: 'v1alpha1',
      namespace,
      plural: 'genomes',
      name,
    })) as GenomeResource;
  } catch {
    return undefined;
  }
}

/** The status of a condition of a Genome (Verified, Ready), with its reason. */
export async function conditionOf(namespace: string, name: string, type: string) {
  return (await readGenome(namespace, name))?.status?.conditions?.find((c) => c.type === type);
}

/**
 * The end of an operator test file: stops the operator, deletes the namespaces (not waiting),
 * removes the operator's credentials, and prints its output when DEBUG_OPERATOR is set.
 */
export async function endOperatorTest(
  operator: RunningOperator | undefined,
  ownNamespace: string,
  namespaces: string[],
): Promise<void> {
  await operator?.stop();
  await kubectlAsync(['delete', 'namespace', ...namespaces, ownNamespace, '--wait=false'], {
    allowFailure: true,
  });
  await removeOperatorCredentials(ownNamespace);
  if (operator && process.env.DEBUG_OPERATOR) process.stderr.write(operator.output());
}

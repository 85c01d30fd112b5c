/**
 * The `make dev` steps of the operator: run it under its own ServiceAccount (the RBAC of
 * config/rbac/operator.yaml, a bound token), and wait for the sample to be Verified.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  operatorHealth,
  operatorRbac,
  spawnOperator,
  writeTokenKubeconfig,
} from '../../cluster/operator-process.ts';
import { devKubectl, type DevStep } from './context.ts';
import { PRODUCTION_GENOME } from './production-sample.ts';
import { SAMPLE_GENOME, SAMPLE_NAMESPACE } from './sample-step.ts';

const NAMESPACE = process.env.GENOME_NAMESPACE ?? 'genome-system';
const HEALTH = process.env.OPERATOR_HEALTH_LISTEN ?? '127.0.0.1:9080';

const kubectl = devKubectl;

async function until(what: string, probe: () => Promise<boolean>, seconds = 60): Promise<void> {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs the operator as its ServiceAccount, with health and metrics on OPERATOR_HEALTH_LISTEN. */
export const runOperator: DevStep = {
  name: `run the operator in ${NAMESPACE} (health and metrics on http://${HEALTH})`,
  run: async (ctx) => {
    kubectl(
      ctx,
      ['apply', '-f', '-'],
      operatorRbac(NAMESPACE)
        .map((o) => JSON.stringify(o))
        .join('\n'),
    );
    const token = kubectl(ctx, [
      'create',
      'token',
      'genome-operator',
      '-n',
      NAMESPACE,
      '--duration=24h',
    ]).trim();
    const dir = mkdtempSync(join(tmpdir(), 'genome-operator-dev-'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeTokenKubeconfig(ctx.kubeconfigPath, token, kubeconfigPath);
    const operator = spawnOperator({
      kubeconfigPath,
      namespace: NAMESPACE,
      healthListen: HEALTH,
      showLog: true,
      identity: 'dev',
    });
    const port = Number(HEALTH.split(':').pop());
    await until(
      'the operator to be ready',
      async () => (await operatorHealth(port, '/readyz')).status === 200,
    );
    return async () => {
      await operator.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  },
};

/** Waits until the sample Genomes are Verified, then shows kubectl get gn -A. */
export const showVerified: DevStep = {
  name: 'wait for the operator to verify the samples',
  run: async (ctx) => {
    for (const name of [SAMPLE_GENOME, PRODUCTION_GENOME])
      await until(
        `${name} to be Verified`,
        async () =>
          kubectl(ctx, [
            ...['get', 'gn', name, '-n', SAMPLE_NAMESPACE],
            ...['-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'],
          ]) === 'True',
      );
    console.log(kubectl(ctx, ['get', 'gn', '-A']));
  },
};

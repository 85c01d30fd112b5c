/**
 * The steps of `make dev` after the cluster is ready: install the CRDs and the default trust
 * policy, trust the TEST key,
 * register and run the webhook (Genome validation and pod injection), apply the sample genome,
 * run the operator, then the images and the sample Mathison workloads (development and
 * production mode). Each step may return its
 * undo.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { genomeManifest } from '../../core/manifest.ts';
import { booleanOf } from '../../core/settings.ts';
import { TEST_KEYS_ANNOTATION, TRUSTED_KEYS_LABEL } from '../../core/trust.ts';
import {
  genomeWebhookConfiguration,
  MUTATE_POD_PATH,
  podWebhookConfiguration,
} from '../../core/webhook-config.ts';
import { installCrdsAndDefaultPolicy } from '../../cluster/crds.ts';
import { spawnWebhook, webhookReadyz } from '../../cluster/webhook-process.ts';
import { runOperator, showVerified } from './operator-step.ts';
import { productionGenome, productionWorkloadStep } from './production-sample.ts';
import {
  SAMPLE_GENOME,
  SAMPLE_NAMESPACE,
  sampleImages,
  sampleWorkloadStep,
} from './sample-step.ts';
import { devKubectl, type DevContext, type DevStep } from './context.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NAMESPACE = process.env.GENOME_NAMESPACE ?? 'genome-system';
const CONFIG_NAME = 'genome-operator';
const LISTEN = process.env.WEBHOOK_LISTEN ?? '127.0.0.1:9443';
const WEBHOOK_URL = process.env.WEBHOOK_URL ?? `https://${LISTEN}/validate-genome`;
/** The pod injection: the same host and port as WEBHOOK_URL. */
const POD_WEBHOOK_URL = Object.assign(new URL(WEBHOOK_URL), { pathname: MUTATE_POD_PATH }).href;
const TOTK = join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0');

const kubectl = devKubectl;

const applyJson = (ctx: DevContext, object: unknown) =>
  kubectl(ctx, ['apply', '-f', '-'], JSON.stringify(object));

async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  seconds = 60,
): Promise<void> {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Applies the TOTK Genome and the production sample's, retrying until the webhook admits them. */
export const applySampleGenome: DevStep = {
  name: `apply the sample genomes (TOTK_ROOT; MATHISON_REFERENCE, production mode; both signed with the TEST key)`,
  run: async (ctx) => {
    const genome = JSON.parse(readFileSync(join(TOTK, 'genome.json'), 'utf8'));
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [genomeManifest(genome, SAMPLE_GENOME, SAMPLE_NAMESPACE), productionGenome()],
    });
    let last = '';
    const admitted = () => {
      try {
        kubectl(ctx, ['apply', '-f', '-'], manifest);
        return true;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    };
    await until('the API server to admit the samples through the webhook', admitted).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${last}`, { cause: err });
      },
    );
    console.log(kubectl(ctx, ['get', 'gn', '-n', SAMPLE_NAMESPACE]));
  },
};

/** The steps, in order. */
export const devSteps: DevStep[] = [
  {
    name: 'install the Genome and GenomeTrustPolicy CRDs and the default trust policy',
    run: async (ctx) => {
      // As the chart's default: test keys count only when the operator's production mode
      // (GENOME_PRODUCTION, which it inherits from here; off unless set) is off.
      const production = booleanOf('production', process.env.GENOME_PRODUCTION ?? 'false');
      await installCrdsAndDefaultPolicy((args, input) => kubectl(ctx, args, input), {
        allowTestKeys: !production,
      });
      console.log(
        `the GenomeTrustPolicy default governs every Genome; test keys ${production ? 'never count (GENOME_PRODUCTION=true)' : 'count (production off)'}`,
      );
    },
  },
  {
    name: `trust the repository's TEST key in ${NAMESPACE} (replace it for anything real)`,
    run: async (ctx) => {
      applyJson(ctx, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
      const [key] = JSON.parse(
        readFileSync(join(TOTK, 'TEST-ONLY-totk-key-001.trust.json'), 'utf8'),
      ) as { key_id: string; public_key: string }[];
      applyJson(ctx, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'genome-trusted-keys',
          namespace: NAMESPACE,
          labels: { [TRUSTED_KEYS_LABEL]: 'true' },
          annotations: { [TEST_KEYS_ANNOTATION]: key!.key_id },
        },
        stringData: { [key!.key_id]: key!.public_key },
      });
    },
  },
  {
    name: `register and run the webhook at ${WEBHOOK_URL} and ${POD_WEBHOOK_URL}`,
    run: async (ctx) => {
      // Registered before the webhook serves, as a Helm install does; it fills in the caBundles.
      applyJson(ctx, genomeWebhookConfiguration(CONFIG_NAME, NAMESPACE, { url: WEBHOOK_URL }));
      applyJson(ctx, podWebhookConfiguration(CONFIG_NAME, NAMESPACE, { url: POD_WEBHOOK_URL }));
      const { stop } = spawnWebhook({
        kubeconfigPath: ctx.kubeconfigPath,
        namespace: NAMESPACE,
        configName: CONFIG_NAME,
        listen: LISTEN,
        showLog: true,
      });
      await until('the webhook to be ready', () =>
        webhookReadyz(Number(LISTEN.split(':').pop())).then((code) => code === 200),
      );
      return async () => {
        // Leave no fail-closed webhook behind on a cluster that outlives make dev.
        for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'])
          spawnSync(ctx.kubectl, [
            ...['--kubeconfig', ctx.kubeconfigPath],
            ...['delete', kind, CONFIG_NAME, '--ignore-not-found'],
          ]);
        await stop();
      };
    },
  },
  applySampleGenome,
  runOperator,
  showVerified,
  sampleImages,
  sampleWorkloadStep,
  productionWorkloadStep,
];

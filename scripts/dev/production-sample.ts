/**
 * The production-mode sample of `make dev` (issue 23): the MATHISON_REFERENCE Genome (it pins
 * three files of the reference image; signed with the TEST key), a one-replica Deployment of the
 * reference image with MATHISON_ENV=production and MATHISON_REPO_ROOT=/app (the boot check
 * verifies the build manifest against the pod's own image), and the commands that roll it to
 * the tampered image (images/tampered-image.ts) and show the refusal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENOME_LABEL } from '../../core/api.ts';
import { genomeManifest } from '../../core/manifest.ts';
import { MATHISON_REFERENCE_IMAGE } from '../../images/image-definitions.ts';
import { TAMPERED_REFERENCE_IMAGE } from '../../images/tampered-image.ts';
import { devKubectl, type DevContext, type DevStep } from './context.ts';

const ROOT = join(import.meta.dirname, '..', '..');
export const PRODUCTION_NAMESPACE = 'default';
export const PRODUCTION_GENOME = 'mathison-reference';
export const PRODUCTION_APP = 'mathison-production';
const SAMPLE = join(ROOT, 'genomes', 'MATHISON_REFERENCE_v1.0.0', 'genome.json');

/** The production sample's Genome object. */
export function productionGenome(): object {
  const genome = JSON.parse(readFileSync(SAMPLE, 'utf8'));
  return genomeManifest(genome, PRODUCTION_GENOME, PRODUCTION_NAMESPACE);
}

/** The restricted security context (as the TOTK sample's). */
const RESTRICTED = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** One reference Mathison container in production mode, naming the MATHISON_REFERENCE Genome. */
export function productionWorkload(): object {
  const labels = { app: PRODUCTION_APP, [GENOME_LABEL]: PRODUCTION_GENOME };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: PRODUCTION_APP, namespace: PRODUCTION_NAMESPACE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: PRODUCTION_APP } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'mathison',
              image: MATHISON_REFERENCE_IMAGE.name,
              imagePullPolicy: 'IfNotPresent',
              // Production boot: the build manifest checked under /app of this very image.
              env: [
                { name: 'MATHISON_ENV', value: 'production' },
                { name: 'MATHISON_REPO_ROOT', value: '/app' },
              ],
              ports: [{ name: 'http', containerPort: 3000 }],
              readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 2 },
              resources: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '192Mi' } },
              securityContext: RESTRICTED,
            },
          ],
        },
      },
    },
  };
}

const kubectl = devKubectl;

/** Whether the production sample's Deployment has its one replica Ready (gate included). */
function productionReady(ctx: DevContext): boolean {
  const ready = kubectl(ctx, [
    ...['get', 'deployment', PRODUCTION_APP, '-n', PRODUCTION_NAMESPACE],
    ...['-o', 'jsonpath={.status.readyReplicas}'],
  ]);
  return ready.trim() === '1';
}

/** Runs the production sample's Deployment, waits for it Ready, prints how to see a refusal. */
export const productionWorkloadStep: DevStep = {
  name: `run the production-mode sample ${PRODUCTION_NAMESPACE}/${PRODUCTION_APP} (Genome ${PRODUCTION_GENOME}, MATHISON_ENV=production)`,
  run: async (ctx) => {
    kubectl(ctx, ['apply', '-f', '-'], JSON.stringify(productionWorkload()));
    if (ctx.node !== 'none') {
      const deadline = Date.now() + 180_000;
      while (!productionReady(ctx) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 500));
      if (!productionReady(ctx))
        console.log(`[dev] still waiting for ${PRODUCTION_APP} to be Ready after 180 s; going on`);
    }
    console.log(
      kubectl(ctx, ['get', 'pods', '-n', PRODUCTION_NAMESPACE, '-l', `app=${PRODUCTION_APP}`]),
    );
    console.log(productionCommands());
  },
};

/** The commands that roll the production sample to the tampered image, show it, and roll back. */
export function productionCommands(): string {
  const ns = `kubectl -n ${PRODUCTION_NAMESPACE}`;
  const setImage = (image: string) =>
    `${ns} set image deployment/${PRODUCTION_APP} mathison=${image}`;
  return [
    'production boot refuses an image that is not the build its genome pins (in the same shell,',
    'with the genome CLI as kubectl genome:',
    `  export PATH=${join(ROOT, 'bin')}:$PATH`,
    '):',
    `  4. roll the production sample to an image whose pinned file differs (the old pod keeps serving):`,
    `     ${setImage(TAMPERED_REFERENCE_IMAGE)}`,
    `  5. see the refusal: the new pod never starts mathison, its boot check's termination message says the code, path and both short hashes:`,
    `     ${ns} describe pod -l app=${PRODUCTION_APP}`,
    `     the Genome's Warning Event names the pod and the image:`,
    `     kubectl genome status ${PRODUCTION_GENOME} -n ${PRODUCTION_NAMESPACE}`,
    `     ${ns} get events --field-selector involvedObject.kind=Genome,involvedObject.name=${PRODUCTION_GENOME}`,
    `  6. roll back to the image the genome pins:`,
    `     ${setImage(MATHISON_REFERENCE_IMAGE.name)}`,
  ].join('\n');
}

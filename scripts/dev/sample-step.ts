/**
 * The `make dev` steps of the sample Mathison workload: the images on the node, a Deployment of
 * two reference Mathison containers running the TOTK genome behind a Service, and the three
 * commands that show readiness following trust.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GENOME_ID_ANNOTATION, GENOME_LABEL, VERIFIED_READINESS_GATE } from '../../core/api.ts';
import {
  ensureImageArchive,
  MATHISON_REFERENCE_IMAGE,
  PRODUCT_IMAGE,
} from '../../images/image-definitions.ts';
import {
  ensureTamperedReferenceImage,
  TAMPERED_REFERENCE_IMAGE,
} from '../../images/tampered-image.ts';
import { devKubectl, type DevContext, type DevStep } from './context.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const NAMESPACE = process.env.GENOME_NAMESPACE ?? 'genome-system';
/** Where the sample runs, and the Genome it names (applied by the steps before). */
export const SAMPLE_NAMESPACE = 'default';
export const SAMPLE_GENOME = 'totk';
export const SAMPLE_APP = 'mathison';
const TRUST_SECRET = 'genome-trusted-keys';
const TEST_KEY = JSON.parse(
  readFileSync(
    join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'TEST-ONLY-totk-key-001.trust.json'),
    'utf8',
  ),
)[0] as { key_id: string; public_key: string };

const kubectl = devKubectl;

async function until(what: string, probe: () => boolean, seconds: number): Promise<boolean> {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    if (probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log(`[dev] still waiting for ${what} after ${seconds} s; going on`);
  return false;
}

/** The restricted security context: what a namespace with the restricted Pod Security level asks. */
const RESTRICTED = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The sample: two reference Mathison containers that name the TOTK Genome, and their Service. */
export function sampleWorkload(): object[] {
  const labels = { app: SAMPLE_APP };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      // Its own genome label opts it into rollouts: a new verified version restarts it.
      metadata: {
        name: SAMPLE_APP,
        namespace: SAMPLE_NAMESPACE,
        labels: { ...labels, [GENOME_LABEL]: SAMPLE_GENOME },
      },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: { ...labels, [GENOME_LABEL]: SAMPLE_GENOME } },
          spec: {
            // The reference container needs no API access, so no token is mounted.
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'mathison',
                image: MATHISON_REFERENCE_IMAGE.name,
                imagePullPolicy: 'IfNotPresent',
                ports: [{ name: 'http', containerPort: 3000 }],
                readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 2 },
                resources: {
                  requests: { cpu: '20m', memory: '48Mi' },
                  limits: { memory: '192Mi' },
                },
                securityContext: RESTRICTED,
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      // Its own genome label opts it into rollouts: a new verified version restarts it.
      metadata: {
        name: SAMPLE_APP,
        namespace: SAMPLE_NAMESPACE,
        labels: { ...labels, [GENOME_LABEL]: SAMPLE_GENOME },
      },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  ];
}

/** Where the cluster's current context is a kind cluster, its name (for `kind load`). */
function kindClusterName(ctx: DevContext): string | undefined {
  const context = kubectl(ctx, ['config', 'current-context']).trim();
  if (!context.startsWith('kind-')) return undefined;
  return spawnSync('sh', ['-c', 'command -v kind']).status === 0 ? context.slice(5) : undefined;
}

/**
 * Builds the product and reference images (cached), and the reference image with one pinned
 * file changed (the production sample's refusal), and puts them on the cluster's node.
 */
export const sampleImages: DevStep = {
  name: `build the images ${PRODUCT_IMAGE.name}, ${MATHISON_REFERENCE_IMAGE.name} and ${TAMPERED_REFERENCE_IMAGE} and put them on the node`,
  run: async (ctx) => {
    if (ctx.node === 'none') {
      console.log('[dev] no node: no images to import (the sample pods stay Pending)');
      return;
    }
    const tampered = (await ensureTamperedReferenceImage()).archive;
    const archives = [
      await ensureImageArchive(PRODUCT_IMAGE),
      await ensureImageArchive(MATHISON_REFERENCE_IMAGE),
      tampered,
    ];
    if (ctx.node === 'local') {
      // cluster/node.ts imports the first two into the node's containerd as it starts.
      ctx.importArchive?.(tampered);
      console.log(`[dev] built and imported into the local node:\n  ${archives.join('\n  ')}`);
      ctx.images = 'node';
      return;
    }
    const kind = kindClusterName(ctx);
    if (kind !== undefined) {
      for (const archive of archives) {
        const load = spawnSync('kind', ['load', 'image-archive', archive, '--name', kind], {
          encoding: 'utf8',
        });
        if (load.status !== 0) throw new Error(`kind load image-archive: ${load.stderr.trim()}`);
      }
      console.log(`[dev] loaded into kind cluster ${kind}:\n  ${archives.join('\n  ')}`);
      ctx.images = 'kind';
      return;
    }
    console.log(
      [
        '[dev] built (OCI archives); this cluster is neither the local node nor kind, so import',
        `them on its nodes yourself, or push them to a registry and name it with HELM_VALUES (the`,
        `chart's pods wait for ${PRODUCT_IMAGE.name}, the samples' for ${MATHISON_REFERENCE_IMAGE.name},`,
        `and the production sample's refusal needs ${TAMPERED_REFERENCE_IMAGE}):`,
        ...archives.map((a) => `  ctr -n k8s.io images import ${a}`),
      ].join('\n'),
    );
    ctx.images = 'user';
  },
};

interface PodView {
  name: string;
  genomeId?: string;
  running: boolean;
  gate?: string;
  ready: boolean;
}

/** The parts of a pod the sample step reads. */
interface PodJson {
  metadata: { name: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready?: boolean }[];
  };
}

function samplePods(ctx: DevContext): PodView[] {
  const list = JSON.parse(
    kubectl(ctx, ['get', 'pods', '-n', SAMPLE_NAMESPACE, '-l', `app=${SAMPLE_APP}`, '-o', 'json']),
  ) as { items: PodJson[] };
  return list.items
    .filter((p) => p.metadata.deletionTimestamp === undefined)
    .map((p) => {
      const conditions = p.status?.conditions ?? [];
      return {
        name: p.metadata.name,
        genomeId: p.metadata.annotations?.[GENOME_ID_ANNOTATION],
        running: (p.status?.containerStatuses ?? []).some(
          (c) => c.name === 'mathison' && c.ready === true,
        ),
        gate: conditions.find((c) => c.type === VERIFIED_READINESS_GATE)?.status,
        ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
      };
    });
}

/** Runs the sample Deployment and Service, waits for its pods, prints how to watch trust. */
export const sampleWorkloadStep: DevStep = {
  name: `run the sample Mathison Deployment ${SAMPLE_NAMESPACE}/${SAMPLE_APP} (2 replicas, Genome ${SAMPLE_GENOME}) behind a Service`,
  run: async (ctx) => {
    kubectl(
      ctx,
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: sampleWorkload() }),
    );
    const genomeId = kubectl(ctx, [
      ...['get', 'gn', SAMPLE_GENOME, '-n', SAMPLE_NAMESPACE],
      ...['-o', 'jsonpath={.status.genomeId}'],
    ]).trim();
    const injected = () => {
      const pods = samplePods(ctx);
      return pods.length === 2 && pods.every((p) => p.genomeId === genomeId);
    };
    await until(`two sample pods injected with genome ${genomeId.slice(0, 12)}`, injected, 60);
    if (ctx.node !== 'none') {
      const all = (test: (p: PodView) => boolean) => () => {
        const pods = samplePods(ctx);
        return pods.length === 2 && pods.every(test);
      };
      // The boot check, then the app's readiness probe; then the gate, which the operator opens.
      if (
        await until(
          'the sample containers to be ready',
          all((p) => p.running),
          180,
        )
      )
        await until(
          'the sample pods to be Ready',
          all((p) => p.ready),
          30,
        );
    }
    const pods = samplePods(ctx);
    console.log(kubectl(ctx, ['get', 'pods', '-n', SAMPLE_NAMESPACE, '-l', `app=${SAMPLE_APP}`]));
    if (ctx.node !== 'none' && pods.some((p) => p.running && p.gate !== 'True')) {
      console.log(
        `[dev] the containers are ready but the readiness gate ${VERIFIED_READINESS_GATE} is not True: ` +
          'the operator sets it (pods/status) while the pod’s genome id is verified',
      );
    }
    console.log(trustCommands(ctx));
  },
};

/** The three commands that show readiness following trust, for this cluster. */
export function trustCommands(
  ctx: Pick<DevContext, 'kubeconfigPath' | 'kubectl' | 'trustSecret' | 'namespace'>,
): string {
  const path = ctx.kubectl.includes('/') ? `export PATH=${dirname(ctx.kubectl)}:$PATH; ` : '';
  const remove = JSON.stringify([{ op: 'remove', path: `/data/${TEST_KEY.key_id}` }]);
  const restore = JSON.stringify({ stringData: { [TEST_KEY.key_id]: TEST_KEY.public_key } });
  const secret = `kubectl -n ${ctx.namespace ?? NAMESPACE} patch secret ${ctx.trustSecret ?? TRUST_SECRET}`;
  return [
    'readiness follows trust (in a shell with:',
    `  ${path}export KUBECONFIG=${ctx.kubeconfigPath}`,
    '):',
    `  1. withdraw trust: remove the TEST key from the trust Secret`,
    `     ${secret} --type=json -p '${remove}'`,
    `  2. watch the pods go NotReady (READINESS GATES 0/1, RESTARTS unchanged) and their endpoints turn not ready:`,
    `     kubectl -n ${SAMPLE_NAMESPACE} get pods -l app=${SAMPLE_APP} -o wide -w`,
    `     # and: kubectl -n ${SAMPLE_NAMESPACE} get endpointslices -l kubernetes.io/service-name=${SAMPLE_APP} -w -o custom-columns='ADDRESSES:.endpoints[*].addresses[0],READY:.endpoints[*].conditions.ready'`,
    `  3. put it back: they become Ready again`,
    `     ${secret} --type=merge -p '${restore}'`,
  ].join('\n');
}

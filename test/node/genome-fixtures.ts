// The TOTK genome and its TEST key, and a ConfigMap in the shape the operator publishes for a
// verified genome (core/render.ts desiredConfigMap: name <genome>-<first 12 of the id>,
// immutable, data genome.json and trusted-keys.json), for tests that forge or replace one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GENOME_CONFIGMAP_KEY,
  GENOME_ID_ANNOTATION,
  shortGenomeId,
  TRUSTED_KEYS_CONFIGMAP_KEY,
} from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import { MATHISON_REFERENCE_IMAGE, PRODUCT_IMAGE } from '../../images/image-definitions.ts';

const TOTK = join(import.meta.dirname, '..', '..', 'genomes', 'TOTK_ROOT_v1.0.0');

/** The TOTK genome as stored, its id, and the trust file of its TEST key. */
export const totk = {
  text: readFileSync(join(TOTK, 'genome.json'), 'utf8'),
  trust: readFileSync(join(TOTK, 'TEST-ONLY-totk-key-001.trust.json'), 'utf8'),
  get genome(): Record<string, unknown> {
    return JSON.parse(this.text) as Record<string, unknown>;
  },
  get id(): string {
    return genomeId(this.genome);
  },
};

/** The TOTK genome with one field changed after signing. */
export const tamperedTotk = (): string =>
  `${JSON.stringify({ ...totk.genome, version: '6.6.6' }, null, 2)}\n`;

/** A published ConfigMap in the operator's shape (genome text and trust file as given). */
export function publishedConfigMap(
  name: string,
  genomeText: string,
  id: string,
  trustText = totk.trust,
): object {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, annotations: { [GENOME_ID_ANNOTATION]: id } },
    immutable: true,
    data: { [GENOME_CONFIGMAP_KEY]: genomeText, [TRUSTED_KEYS_CONFIGMAP_KEY]: trustText },
  };
}

/** The name the operator gives the ConfigMap of `genomeName` at `id` (names that need no hash). */
export const configMapNameFor = (genomeName: string, id: string): string =>
  `${genomeName}-${shortGenomeId(id)}`;

/** The security context every container here runs with: what a restricted namespace asks. */
export const RESTRICTED = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

/** The reference Mathison container, probed on /health. */
export function mathisonContainer(extra: object = {}): object {
  return {
    name: 'mathison',
    image: MATHISON_REFERENCE_IMAGE.name,
    imagePullPolicy: 'Never',
    securityContext: RESTRICTED,
    readinessProbe: { httpGet: { path: '/health', port: 3000 }, periodSeconds: 1 },
    ...extra,
  };
}

/** The product image running the boot check (what the webhook injects as the init container). */
export function bootCheckContainer(extra: object = {}): object {
  return {
    name: 'genome-verify',
    image: PRODUCT_IMAGE.name,
    imagePullPolicy: 'Never',
    args: ['/app/genome-boot-check.mjs'],
    securityContext: RESTRICTED,
    ...extra,
  };
}

/** /health of a pod's port 3000, through the API server's pod proxy. */
export async function healthOf(
  kubectl: (args: string[], o?: { allowFailure?: boolean }) => Promise<{ stdout: string }>,
  namespace: string,
  pod: string,
): Promise<Record<string, unknown>> {
  const out = await kubectl([
    'get',
    '--raw',
    `/api/v1/namespaces/${namespace}/pods/${pod}:3000/proxy/health`,
  ]);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

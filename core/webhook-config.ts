import { GENOME_LABEL } from './api.ts';
import { GENOME_GROUP, GENOME_PLURAL, GENOME_VERSION } from './crd.ts';

/** Where the API server reaches the webhook: a Service in the cluster, or a URL (local runs). */
export type WebhookEndpoint =
  { service: { namespace: string; name: string; port: number } } | { url: string };

/** Path at which the webhook serves Genome admissions. */
export const VALIDATE_GENOME_PATH = '/validate-genome';

/** Path at which the webhook serves pod mutations (genome injection). */
export const MUTATE_POD_PATH = '/mutate-pod';

/** Name of the pod mutating webhook inside its configuration. */
export const POD_WEBHOOK_NAME = 'pods.genome.mathison.io';

/** Name of the Genome validating webhook inside its configuration. */
export const GENOME_WEBHOOK_NAME = 'genomes.mathison.io';

/**
 * What both webhooks share: fail closed, no side effects, a 5 s timeout, the endpoint with its
 * path and CA bundle, and never kube-system or the webhook's own namespace, so a broken
 * webhook cannot lock the cluster or itself out.
 */
function failClosedWebhook(
  ownNamespace: string,
  endpoint: WebhookEndpoint,
  path: string,
  caBundle: string | undefined,
): Record<string, unknown> {
  const clientConfig =
    'url' in endpoint ? { url: endpoint.url } : { service: { ...endpoint.service, path } };
  return {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: 5,
    clientConfig: { ...clientConfig, ...(caBundle === undefined ? {} : { caBundle }) },
    namespaceSelector: {
      matchExpressions: [
        {
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kube-system', ownNamespace],
        },
      ],
    },
  };
}

const METADATA_LABELS = { 'app.kubernetes.io/name': 'genome-operator' };

/**
 * Returns the ValidatingWebhookConfiguration for Genomes: CREATE and UPDATE of genomes only
 * (status updates never reach it), fail closed, no side effects, 5 s timeout, and never for
 * kube-system or the webhook's own namespace.
 */
export function genomeWebhookConfiguration(
  name: string,
  ownNamespace: string,
  endpoint: WebhookEndpoint,
  caBundle?: string,
): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: METADATA_LABELS },
    webhooks: [
      {
        name: GENOME_WEBHOOK_NAME,
        ...failClosedWebhook(ownNamespace, endpoint, VALIDATE_GENOME_PATH, caBundle),
        rules: [
          {
            apiGroups: [GENOME_GROUP],
            apiVersions: [GENOME_VERSION],
            resources: [GENOME_PLURAL],
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
        ],
      },
    ],
  };
}

/**
 * Returns the MutatingWebhookConfiguration that injects genomes into pods: CREATE of pods that
 * carry the genome label only (an object selector, so no other pod is ever sent), fail closed,
 * no side effects, reinvoked if a later webhook changes the pod, and never for kube-system or
 * the webhook's own namespace.
 */
export function podWebhookConfiguration(
  name: string,
  ownNamespace: string,
  endpoint: WebhookEndpoint,
  caBundle?: string,
): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: METADATA_LABELS },
    webhooks: [
      {
        name: POD_WEBHOOK_NAME,
        ...failClosedWebhook(ownNamespace, endpoint, MUTATE_POD_PATH, caBundle),
        reinvocationPolicy: 'IfNeeded',
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods'],
            // UPDATE: a running pod may not gain, lose or change its genome label (the
            // object selector sends an UPDATE when either the old or the new pod has it).
            operations: ['CREATE', 'UPDATE'],
            scope: 'Namespaced',
          },
        ],
        objectSelector: { matchExpressions: [{ key: GENOME_LABEL, operator: 'Exists' }] },
      },
    ],
  };
}

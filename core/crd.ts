import { GENOME_SCHEMA, type SchemaNode } from './genome-schema.ts';
import { POLICY_MODES } from './trust-policy.ts';

import {
  GENERATED_BY_ANNOTATION,
  GENOME_ID_ANNOTATION,
  GENOME_LABEL,
  ROLLOUT_AUTOMATIC,
  ROLLOUT_MANUAL,
  GENOME_GROUP,
  GENOME_KIND,
  GENOME_PLURAL,
  GENOME_VERSION,
} from './api.ts';

/** API group, version and names of the Genome resource (defined in core/api.ts). */
export {
  GENOME_API_VERSION,
  GENOME_GROUP,
  GENOME_KIND,
  GENOME_PLURAL,
  GENOME_VERSION,
} from './api.ts';

/** At most this many policy results in a Genome's status.policies. */
export const MAX_POLICY_RESULTS = 64;
/** At most this many signers per policy result (a genome has at most 32). */
export const MAX_POLICY_SIGNERS = 64;

/** An OpenAPI v3 schema as the API server takes it in a CRD. */
export type OpenApiSchema = Record<string, unknown>;

/**
 * Converts a genome schema node to a structural OpenAPI schema. Every object keeps unknown
 * fields (x-kubernetes-preserve-unknown-fields) so that the API server never prunes a field of
 * signed content: the webhook refuses a field outside the format with GENOME_INVALID_SCHEMA
 * and its path, instead of the API server silently dropping it and breaking the signature.
 */
export function toOpenApi(node: SchemaNode): OpenApiSchema {
  const { description } = node;
  switch (node.type) {
    case 'string':
      return stringSchema(node);
    case 'integer':
      return { type: 'integer', format: 'int64', description, minimum: node.minimum };
    case 'array':
      return {
        type: 'array',
        description,
        items: toOpenApi(node.items),
        ...(node.minItems !== undefined && { minItems: node.minItems }),
        ...(node.maxItems !== undefined && { maxItems: node.maxItems }),
      };
    case 'object':
      return {
        type: 'object',
        description,
        required: [...node.required],
        properties: Object.fromEntries(
          Object.entries(node.properties).map(([k, v]) => [k, toOpenApi(v)]),
        ),
        'x-kubernetes-preserve-unknown-fields': true,
      };
  }
}

/**
 * A string node. A keyMaterial field gets no pattern: the API server's pattern error would
 * quote a private key pasted there; verify checks it without quoting (genome-schema.ts).
 */
function stringSchema(node: Extract<SchemaNode, { type: 'string' }>): OpenApiSchema {
  return {
    type: 'string',
    description: node.description,
    ...(node.enum && { enum: [...node.enum] }),
    ...(node.pattern !== undefined && !node.keyMaterial && { pattern: node.pattern }),
    ...(node.minLength !== undefined && { minLength: node.minLength }),
  };
}

/** A standard Kubernetes condition; `types` says which types the resource has. */
export function conditionSchema(types: string): OpenApiSchema {
  return {
    type: 'object',
    description: 'A standard Kubernetes condition.',
    required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
    properties: {
      type: { type: 'string', description: types },
      status: {
        type: 'string',
        enum: ['True', 'False', 'Unknown'],
        description: 'True, False or Unknown.',
      },
      reason: {
        type: 'string',
        description: 'CamelCase reason, or a refusal code such as GENOME_INVALID_SIGNATURE.',
      },
      message: { type: 'string', description: 'What happened, and what to do.' },
      lastTransitionTime: {
        type: 'string',
        format: 'date-time',
        description: 'When status last changed.',
      },
      observedGeneration: {
        type: 'integer',
        format: 'int64',
        description: 'The generation this condition is about.',
      },
    },
  };
}

/** status.policies[].signers[]: one signer of the genome as one policy judged it (SignerResult). */
const policySignerSchema: OpenApiSchema = {
  type: 'object',
  description: 'A key id that signed the genome, and whether it counted for this policy.',
  required: ['keyId', 'counted', 'state'],
  properties: {
    keyId: { type: 'string', description: 'The key id of a signature that verified.' },
    counted: {
      type: 'boolean',
      description: "Whether it counted towards this policy's quorum.",
    },
    state: {
      type: 'string',
      description:
        'Why it counted or not: "counted"; "not trusted" (no trust Secret holds this key); "not a key of this policy" (outside its spec.keys); "outside its validity window" (its Secret\'s not-before/not-after); "a test key, not allowed by this policy" (spec.allowTestKeys).',
    },
  },
};

/** status.policies[]: one matching GenomeTrustPolicy's result (core/trust-policy.ts PolicyResult). */
const policyResultSchema: OpenApiSchema = {
  type: 'object',
  description: 'One GenomeTrustPolicy that matches this Genome, and its result.',
  required: ['policy', 'mode', 'held'],
  properties: {
    policy: { type: 'string', description: 'The name of the GenomeTrustPolicy.' },
    mode: {
      type: 'string',
      enum: [...POLICY_MODES],
      description:
        'Its spec.mode: Enforce (must hold for the Genome to be verified), Warn (a failure warns), Audit (only reported).',
    },
    held: { type: 'boolean', description: 'Whether the policy holds for this genome.' },
    reason: {
      type: 'string',
      description:
        'Why it does not hold: a refusal code such as POLICY_REQUIRED_SIGNER_MISSING (absent when it holds; the message says what to do).',
    },
    message: { type: 'string', description: 'What the policy found, and what to do.' },
    signers: {
      type: 'array',
      maxItems: MAX_POLICY_SIGNERS,
      description: 'Each signer of the genome, and whether it counted for this policy.',
      items: policySignerSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['keyId'],
    },
  },
};

/**
 * The columns of `kubectl get gn`: why a Genome is not verified (the Verified condition's reason,
 * a refusal code) beside its status, and the condition's message under `-o wide`.
 */
const GENOME_PRINTER_COLUMNS: OpenApiSchema[] = [
  {
    name: 'Genome',
    type: 'string',
    jsonPath: '.spec.genome.name',
    description: 'Name inside the genome.',
  },
  {
    name: 'Version',
    type: 'string',
    jsonPath: '.spec.genome.version',
    description: 'Version of the genome.',
  },
  {
    name: 'Verified',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Verified")].status',
    description: 'Verified against trusted keys.',
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Verified")].reason',
    description:
      'Why: Verified, or the refusal code (docs/operator.md); the message is under -o wide.',
  },
  {
    name: 'ID',
    type: 'string',
    jsonPath: '.status.shortId',
    description: 'Short genome id.',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  {
    name: 'Message',
    type: 'string',
    priority: 1,
    jsonPath: '.status.conditions[?(@.type=="Verified")].message',
    description: 'What the Verified condition says, and what to do (-o wide).',
  },
];

const statusSchema: OpenApiSchema = {
  type: 'object',
  description: 'What the operator observed, written by the operator only.',
  properties: {
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      description: 'The generation last verified.',
    },
    genomeId: { type: 'string', description: 'Lowercase hex SHA-256 of the canonical bytes.' },
    shortId: {
      type: 'string',
      description: 'The first 12 characters of genomeId, for kubectl get.',
    },
    verifiedSigners: {
      type: 'array',
      items: { type: 'string' },
      description: 'Key ids of the trusted signers whose signatures verified.',
    },
    configMapName: {
      type: 'string',
      description: 'The immutable ConfigMap that publishes the verified genome.',
    },
    conditions: {
      type: 'array',
      description: 'Verified and Ready conditions.',
      items: conditionSchema('Verified, or Ready (the summary).'),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    policies: {
      type: 'array',
      maxItems: MAX_POLICY_RESULTS,
      description:
        'The GenomeTrustPolicies that match this Genome (its namespace, its signed name), each held or not and why, with every signer and whether it counted (docs/trust-policies.md).',
      items: policyResultSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['policy'],
    },
  },
};

/** spec.rollout: outside spec.genome, so its default never touches signed content. */
const rolloutSchema: OpenApiSchema = {
  type: 'string',
  enum: [ROLLOUT_AUTOMATIC, ROLLOUT_MANUAL],
  default: ROLLOUT_AUTOMATIC,
  description: `What happens to the Deployments and StatefulSets of this namespace whose pod template carries the label ${GENOME_LABEL}: <this Genome's name> when the verified genome id changes. ${ROLLOUT_AUTOMATIC} (default): the operator stamps the new id on the pod template (annotation ${GENOME_ID_ANNOTATION}), which starts a rolling update. ${ROLLOUT_MANUAL}: templates are left alone; pods created from now on still get the current genome at admission (kubectl rollout restart rolls them).`,
};

/** Returns the CustomResourceDefinition of Genome, generated from the genome schema. */
export function genomeCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${GENOME_PLURAL}.${GENOME_GROUP}`,
      annotations: {
        [GENERATED_BY_ANNOTATION]: 'scripts/generate-crd.ts; edit core/genome-schema.ts',
      },
    },
    spec: {
      group: GENOME_GROUP,
      scope: 'Namespaced',
      names: {
        kind: GENOME_KIND,
        listKind: `${GENOME_KIND}List`,
        plural: GENOME_PLURAL,
        singular: 'genome',
        shortNames: ['gn'],
        categories: ['mathison'],
      },
      versions: [
        {
          name: GENOME_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: GENOME_PRINTER_COLUMNS,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A signed Mathison genome, verified against keys the cluster trusts.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  description: 'The signed genome, and what to do when its verified id changes.',
                  required: ['genome'],
                  properties: { genome: toOpenApi(GENOME_SCHEMA), rollout: rolloutSchema },
                },
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * The GenomeTrustPolicy resource (docs/trust-policies.md): the CRD that scripts/generate-crd.ts
 * writes to crds/genometrustpolicies.mathison.io.yaml. Its spec mirrors TrustPolicySpec of
 * core/trust-policy.ts field for field. Unlike a Genome's spec it is not signed content, so
 * unknown fields are pruned; every list, string and map is bounded, so that what an
 * administrator writes keeps the webhook's and the operator's caches (and CEL costs) bounded.
 */
import { GENERATED_BY_ANNOTATION, GENOME_GROUP, GENOME_VERSION } from './api.ts';
import { conditionSchema, type OpenApiSchema } from './crd.ts';
import { KEY_ID_PATTERN } from './genome-schema.ts';
import { POLICY_MODES, type TrustPolicySpec } from './trust-policy.ts';

/** Kind, plural and short name of the GenomeTrustPolicy resource (group and version: Genome's). */
export const TRUST_POLICY_KIND = 'GenomeTrustPolicy';
export const TRUST_POLICY_PLURAL = 'genometrustpolicies';
export const TRUST_POLICY_SHORT_NAME = 'gtp';

/** A DNS-1123 subdomain: the name of a Secret. */
export const DNS_SUBDOMAIN_PATTERN =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A Go duration in h, m, s and ms, as core/trust-policy.ts parseDuration reads it. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|h|m|s))+$';

/** The bounds of a policy (docs/trust-policies.md, "Limits"). */
export const TRUST_POLICY_LIMITS = {
  genomeNames: 64,
  secretRefs: 32,
  keyIds: 256,
  requiredKeyIds: 32,
  threshold: 64,
  matchLabels: 64,
  matchExpressions: 32,
  expressionValues: 64,
} as const;

const string = (description: string, maxLength: number, extra: OpenApiSchema = {}) => ({
  type: 'string',
  description,
  maxLength,
  ...extra,
});

const list = (description: string, maxItems: number, items: OpenApiSchema) => ({
  type: 'array',
  description,
  maxItems,
  items,
});

const keyId = (description: string) =>
  string(description, 253, { minLength: 1, pattern: KEY_ID_PATTERN });

/** metav1.LabelSelector, bounded. */
const labelSelectorSchema: OpenApiSchema = {
  type: 'object',
  description:
    'The namespaces whose Genomes this policy governs, by their labels (a standard label selector: matchLabels and matchExpressions, all must hold). Absent: every namespace. An empty selector ({}) also selects every namespace.',
  properties: {
    matchLabels: {
      type: 'object',
      description: 'Labels the namespace must have, each with exactly this value.',
      maxProperties: TRUST_POLICY_LIMITS.matchLabels,
      additionalProperties: string('The label value.', 63),
    },
    matchExpressions: list(
      'Requirements on the namespace labels; each must hold.',
      TRUST_POLICY_LIMITS.matchExpressions,
      {
        type: 'object',
        description: 'A label key, an operator and values.',
        required: ['key', 'operator'],
        properties: {
          key: string('The label key the requirement applies to.', 317, { minLength: 1 }),
          operator: {
            type: 'string',
            enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
            description:
              "In, NotIn (the label's value among values, or not), Exists, DoesNotExist (the label present, or not).",
          },
          values: list(
            'The values for In and NotIn (non-empty); none for Exists and DoesNotExist.',
            TRUST_POLICY_LIMITS.expressionValues,
            string('A label value.', 63),
          ),
        },
        'x-kubernetes-validations': [
          {
            rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
            message:
              'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
          },
        ],
      },
    ),
  },
};

const matchSchema: OpenApiSchema = {
  type: 'object',
  description:
    'Which Genomes this policy governs: those in a namespace the selector selects and whose signed name matches a glob. Absent: every Genome in every namespace.',
  properties: {
    namespaceSelector: labelSelectorSchema,
    genomeNames: list(
      "Globs on the genome's signed name (spec.genome.name): * matches any run of characters, ? one character, e.g. TOTK_*. Absent: every genome.",
      TRUST_POLICY_LIMITS.genomeNames,
      string('A glob on the genome name.', 253, { minLength: 1 }),
    ),
  },
};

const keysSchema: OpenApiSchema = {
  type: 'object',
  description:
    "Which trusted keys count for this policy: the keys of these trust Secrets (labelled genome.mathison.io/trusted-keys in the operator's namespace), optionally only these key ids. Absent: every trusted key.",
  properties: {
    secretRefs: list(
      "Trust Secrets in the operator's namespace whose keys count. A Secret that is missing or holds no usable key makes the policy not Ready, and the Genomes it governs are refused. Absent: every trust Secret.",
      TRUST_POLICY_LIMITS.secretRefs,
      {
        type: 'object',
        description: 'A trust Secret, by name.',
        required: ['name'],
        properties: {
          name: string("The Secret's name.", 253, { pattern: DNS_SUBDOMAIN_PATTERN }),
        },
      },
    ),
    keyIds: list(
      'Only these key ids of those Secrets count. Absent: all of their keys.',
      TRUST_POLICY_LIMITS.keyIds,
      keyId('A key id (the data key of its trust Secret).'),
    ),
  },
};

/** spec: TrustPolicySpec of core/trust-policy.ts. */
const specSchema: OpenApiSchema = {
  type: 'object',
  description:
    'Which Genomes this policy governs, which keys count for them, how many must sign, and what a failure does.',
  required: ['mode'],
  properties: {
    mode: {
      type: 'string',
      enum: [...POLICY_MODES],
      description:
        'What a Genome that fails this policy gets. Enforce: refused (every matching Enforce policy must hold). Warn: admitted with a warning, an Event and a condition; its pods keep their gates. Audit: only reported (status, Event, metric). Neither a Warn nor an Audit policy admits a Genome on its own: one that no Enforce policy matches is refused (POLICY_NO_MATCH).',
    },
    match: matchSchema,
    keys: keysSchema,
    threshold: {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: TRUST_POLICY_LIMITS.threshold,
      description:
        "How many distinct signers counted by this policy (keys, window, test keys) the genome needs. The quorum is the larger of this and the genome's own signed authority.threshold. Absent: the genome's own.",
    },
    requiredKeyIds: list(
      'Key ids that must each be among the counted signers (e.g. a security officer), whatever the threshold.',
      TRUST_POLICY_LIMITS.requiredKeyIds,
      keyId('A key id that must sign.'),
    ),
    allowTestKeys: {
      type: 'boolean',
      description:
        'Whether keys marked as test keys (annotation genome.mathison.io/test-keys on their Secret) count. Absent or false: they never count.',
    },
    maxAge: string(
      'The oldest a genome may be: a Go duration in h, m, s or ms (8760h, 720h30m). A genome whose signed created_at is older is refused (GENOME_TOO_OLD). Absent: no limit.',
      64,
      { pattern: DURATION_PATTERN },
    ),
  },
};

const count = (description: string) => ({
  type: 'integer',
  format: 'int64',
  minimum: 0,
  description,
});

const statusSchema: OpenApiSchema = {
  type: 'object',
  description: 'What the operator observed, written by the operator only.',
  properties: {
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      description: 'The generation the status is about.',
    },
    conditions: {
      type: 'array',
      description:
        'The Ready condition: False with a reason when a referenced Secret is missing or holds no usable key (the Genomes it governs are then refused).',
      items: conditionSchema('Ready.'),
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
    matched: count('How many Genomes this policy matches.'),
    verified: count('How many of them it holds for.'),
    refused: count('How many of them it does not hold for.'),
  },
};

const printerColumns = [
  { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Enforce, Warn or Audit.' },
  {
    name: 'Matched',
    type: 'integer',
    jsonPath: '.status.matched',
    description: 'Genomes it matches.',
  },
  {
    name: 'Verified',
    type: 'integer',
    jsonPath: '.status.verified',
    description: 'Genomes it holds for.',
  },
  {
    name: 'Refused',
    type: 'integer',
    jsonPath: '.status.refused',
    description: 'Genomes it does not hold for.',
  },
  {
    name: 'Ready',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: 'Whether every Secret it names holds a usable key.',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** Returns the CustomResourceDefinition of GenomeTrustPolicy. */
export function trustPolicyCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${TRUST_POLICY_PLURAL}.${GENOME_GROUP}`,
      annotations: {
        [GENERATED_BY_ANNOTATION]: 'scripts/generate-crd.ts; edit core/trust-policy-schema.ts',
      },
    },
    spec: {
      group: GENOME_GROUP,
      scope: 'Cluster',
      names: {
        kind: TRUST_POLICY_KIND,
        listKind: `${TRUST_POLICY_KIND}List`,
        plural: TRUST_POLICY_PLURAL,
        singular: 'genometrustpolicy',
        shortNames: [TRUST_POLICY_SHORT_NAME],
        categories: ['mathison'],
      },
      versions: [
        {
          name: GENOME_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'Which trusted keys count for which Genomes, at what quorum, until when, in which mode (docs/trust-policies.md). Cluster-scoped: only subjects a ClusterRoleBinding grants write on genometrustpolicies (cluster administrators) can change trust; no namespace RoleBinding can.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema,
                status: statusSchema,
              },
            },
          },
        },
      ],
    },
  };
}

/** The name of the policy the chart, `make dev` and the tests create. */
export const DEFAULT_TRUST_POLICY_NAME = 'default';

/**
 * The `default` GenomeTrustPolicy: the flat model (every namespace, every genome, every trust
 * Secret, the genome's own threshold), refusing what fails (Enforce). Test keys count only
 * where production mode is off. The chart's templates/trust-policy.yaml renders the same.
 */
export function defaultTrustPolicy(options: { allowTestKeys: boolean }): {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: TrustPolicySpec;
} {
  return {
    apiVersion: `${GENOME_GROUP}/${GENOME_VERSION}`,
    kind: TRUST_POLICY_KIND,
    metadata: { name: DEFAULT_TRUST_POLICY_NAME },
    spec: { mode: 'Enforce', allowTestKeys: options.allowTestKeys },
  };
}

/**
 * The product's API in one place: the Genome resource's types and every label, annotation,
 * condition and name the webhook, the operator and the pods agree on. Pure: no I/O.
 */

/** API group, version and names of the Genome resource. */
export const GENOME_GROUP = 'mathison.io';
/** The served and stored version of the Genome resource. */
export const GENOME_VERSION = 'v1alpha1';
/** The resource (plural) name: /apis/mathison.io/v1alpha1/namespaces/<ns>/genomes. */
export const GENOME_PLURAL = 'genomes';
/** The kind of the Genome resource. */
export const GENOME_KIND = 'Genome';
/** The apiVersion field of a Genome. */
export const GENOME_API_VERSION = `${GENOME_GROUP}/${GENOME_VERSION}`;

// Labels.

/** Label that marks a Secret of trusted public keys (value "true"); only these are watched. */
export const TRUSTED_KEYS_LABEL = 'genome.mathison.io/trusted-keys';
/** Pod label naming the Genome (same namespace) the pod runs; also on the ConfigMaps published for it. */
export const GENOME_LABEL = 'genome.mathison.io/genome';
/** The standard label saying which component manages an object (value FIELD_MANAGER). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Label on a published ConfigMap: the uid of the Genome that owns it (a name may exceed 63). */
export const GENOME_UID_LABEL = 'genome.mathison.io/genome-uid';

// Annotations.

/**
 * The test-key marker of a trust Secret: comma-separated key ids of its entries that are test
 * keys (the repository's TEST key is one). Production mode refuses genomes that only test keys
 * verify. Per entry rather than a label on the whole Secret, so that one Secret may hold both.
 */
export const TEST_KEYS_ANNOTATION = 'genome.mathison.io/test-keys';
/** On a trust Secret: its keys count from this RFC 3339 time on (inclusive). */
export const NOT_BEFORE_ANNOTATION = 'genome.mathison.io/not-before';
/** On a trust Secret: its keys no longer count from this RFC 3339 time on. */
export const NOT_AFTER_ANNOTATION = 'genome.mathison.io/not-after';
/** Annotation ("true") on a Genome that allows lowering its version on purpose (a rollback). */
export const ALLOW_DOWNGRADE_ANNOTATION = 'genome.mathison.io/allow-downgrade';
/** Annotation with the genome id (lowercase hex SHA-256), on a pod and on a published ConfigMap. */
export const GENOME_ID_ANNOTATION = 'genome.mathison.io/id';
/** Annotation on the webhook TLS Secret: when the current CA was first published in the caBundle. */
export const CA_PUBLISHED_AT_ANNOTATION = 'genome.mathison.io/ca-published-at';
/** Annotation on the webhook TLS Secret: when the current serving certificate was written. */
export const SERVING_ISSUED_AT_ANNOTATION = 'genome.mathison.io/serving-issued-at';
/** Annotation on a generated file (the CRD) saying what generates it. */
export const GENERATED_BY_ANNOTATION = 'genome.mathison.io/generated-by';

// Pods, conditions, writers. (No finalizers: published ConfigMaps are owned by their Genome
// and garbage-collected with it; a finalizer would be for external clean-up only.)

/** The pod readiness gate (conditionType) the operator keeps in step with the Genome's verdict. */
export const VERIFIED_READINESS_GATE = 'genome.mathison.io/verified';
/** Condition type: the genome verified against the cluster's trusted keys. */
export const CONDITION_VERIFIED = 'Verified';
/** Condition type: verified and published (Ready summarises the others). */
export const CONDITION_READY = 'Ready';
/** The condition types a Genome's status carries. */
/**
 * True while the verdict will turn refused within a week with time alone (a signer's key
 * reaching its not-after, the genome passing a policy's maxAge): what to re-sign before then.
 * Absent otherwise.
 */
export const CONDITION_TRUST_EXPIRING = 'TrustExpiring';
export type GenomeConditionType =
  typeof CONDITION_VERIFIED | typeof CONDITION_READY | typeof CONDITION_TRUST_EXPIRING;
/** Reason of Verified=True. (False carries the refusal code, e.g. GENOME_UNTRUSTED_SIGNER.) */
export const REASON_VERIFIED = 'Verified';
/** Reason of Ready=True: the verified genome is published in its ConfigMap. */
export const REASON_PUBLISHED = 'Published';
/** The server-side apply field manager and the Event reporting component of the operator. */
export const FIELD_MANAGER = 'genome-operator';
/** The data key of a published ConfigMap that holds the signed genome exactly as stored. */
export const GENOME_CONFIGMAP_KEY = 'genome.json';
/** The data key of a published ConfigMap that holds the trusted keys that verified it (a trust file). */
export const TRUSTED_KEYS_CONFIGMAP_KEY = 'trusted-keys.json';
/** How many characters of the genome id status.shortId (and kubectl get gn) shows. */
export const SHORT_ID_LENGTH = 12;
/** spec.rollout: the operator stamps a new verified id on the pod templates that name the Genome. */
export const ROLLOUT_AUTOMATIC = 'Automatic';
/** spec.rollout: pod templates are left alone; new pods still get the current id at admission. */
export const ROLLOUT_MANUAL = 'Manual';
/** What a Genome's workloads do when its verified genome id changes (spec.rollout). */
export type RolloutPolicy = typeof ROLLOUT_AUTOMATIC | typeof ROLLOUT_MANUAL;

// The Genome resource.

/** The object metadata fields the product reads or writes. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** An owner reference (a published ConfigMap points at its Genome). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A status condition: CamelCase type, a stable reason, and the generation it is about. */
export interface GenomeCondition {
  type: GenomeConditionType;
  status: 'True' | 'False' | 'Unknown';
  /** CamelCase reason, or a refusal code such as GENOME_INVALID_SIGNATURE. */
  reason: string;
  message: string;
  /** RFC 3339; kept unless the status flips. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** What the operator observed, written through the status subresource only. */
export interface GenomeStatus {
  /** The metadata.generation last verified. */
  observedGeneration?: number;
  /** Lowercase hex SHA-256 of the canonical bytes. */
  genomeId?: string;
  /** The first SHORT_ID_LENGTH characters of genomeId. */
  shortId?: string;
  /** Key ids of the trusted signers whose signatures verified. */
  verifiedSigners?: string[];
  /** The immutable ConfigMap that publishes the verified genome. */
  configMapName?: string;
  conditions?: GenomeCondition[];
  /** The trust policies that matched (docs/trust-policies.md): held or not, and why. */
  policies?: GenomePolicyStatus[];
}

/** One trust policy's judgement of the Genome, as its status shows it. */
export interface GenomePolicyStatus {
  policy: string;
  mode: 'Enforce' | 'Warn' | 'Audit';
  held: boolean;
  /** The refusal code when it does not hold. */
  reason?: string;
  message: string;
  /** Each signer: whether it counted for this policy, and why not. */
  signers: { keyId: string; counted: boolean; state: string }[];
}

/**
 * A Genome as the API server stores it. spec.genome is `unknown` on purpose: an object created
 * while the webhook was down may hold anything, so it is validated (core/genome.ts) before use.
 */
export interface GenomeResource {
  apiVersion: string;
  kind: typeof GENOME_KIND;
  metadata: ObjectMeta;
  /** `rollout` is not signed content: changing it never touches spec.genome. */
  spec: { genome: unknown; rollout?: RolloutPolicy };
  status?: GenomeStatus;
}

/** The short id shown by kubectl get gn: the first SHORT_ID_LENGTH characters of the id. */
export function shortGenomeId(genomeId: string): string {
  return genomeId.slice(0, SHORT_ID_LENGTH);
}

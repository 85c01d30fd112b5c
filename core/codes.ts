/**
 * The stable refusal codes. Every refusal in the CLI, the webhook denial, the Genome condition
 * reason, Events and logs carries one of these. Never reuse a code for another meaning.
 */
export const REFUSAL_CODES = {
  GENOME_MISSING: {
    meaning: 'there is no genome where one was expected',
    action: 'check the file path, or the name of the Genome the pod asks for',
  },
  GENOME_UNREADABLE: {
    meaning:
      'the genome cannot be read as JSON that every parser reads the same way (a directory, an empty or non-UTF-8 file, a syntax error, duplicate key, lone surrogate, unsafe number, or too deep nesting)',
    action:
      'fix the JSON text; tools that re-serialize JSON hide these problems, so fix the source',
  },
  GENOME_INVALID_SCHEMA: {
    meaning:
      'the document is not a valid genome.v0.1 (a field is missing, has the wrong type, or is not part of the format)',
    action: 'fix the field named in the message, then sign the genome again',
  },
  GENOME_UNSIGNED: {
    meaning: 'the genome carries no signature: neither `signature` nor an entry in `signatures`',
    action: 'sign it: GENOME_SIGNING_PRIVATE_KEY=... genome sign genome.json (docs/cli.md)',
  },
  GENOME_INVALID_SIGNATURE: {
    meaning:
      'a signature does not verify over the canonical bytes: the content was changed after signing, or the signature is malformed',
    action:
      'sign the genome again with genome sign; if you did not change it, treat it as tampered',
  },
  GENOME_UNTRUSTED_SIGNER: {
    meaning: 'no signer of the genome matches a trusted key (key id and public key bytes)',
    action:
      'sign with a trusted key, or add the signer public key to a trust Secret (label genome.mathison.io/trusted-keys=true)',
  },
  GENOME_THRESHOLD_NOT_MET: {
    meaning: 'fewer distinct trusted signers than the threshold have signed',
    action: 'collect signatures from more trusted signers (genome sign adds to signatures)',
  },
  GENOME_TOO_LARGE: {
    meaning: 'the genome is larger than the size limit',
    action: 'reduce the genome; see docs/limits.md for the limit and why it exists',
  },
  GENOME_DOWNGRADE: {
    meaning: 'the update lowers spec.genome.version',
    action:
      'apply a higher version, or set the annotation genome.mathison.io/allow-downgrade: "true" to roll back deliberately',
  },
  GENOME_VERIFY_ERROR: {
    meaning: 'verification failed with an internal error, so the genome was refused (fail closed)',
    action:
      'report this as a bug with the genome and the log line; the genome is not necessarily bad',
  },
  GENOME_TEST_KEY_IN_PRODUCTION: {
    meaning:
      'the threshold is met only with keys marked as test keys (annotation genome.mathison.io/test-keys on the trust Secret), which production mode, or a trust policy without allowTestKeys, does not count',
    action:
      'sign the genome with production keys, or (on a test cluster only) set allowTestKeys: true on the policy that governs it',
  },
  GENOME_TOO_OLD: {
    meaning:
      "the genome's signed created_at is older than the maxAge of a trust policy that governs it",
    action:
      'sign a fresh genome (a new created_at, then genome sign), or raise the policy maxAge if the age is acceptable',
  },
  TRUST_KEY_OUTSIDE_WINDOW: {
    meaning:
      'the threshold is met only with keys outside their validity window (annotations genome.mathison.io/not-before and not-after on the trust Secret): not yet valid, or expired',
    action:
      'sign with a key that is valid now (the rotation procedure in docs/trust-policies.md), or correct the window on the trust Secret',
  },
  POLICY_NO_MATCH: {
    meaning:
      "no GenomeTrustPolicy in Enforce mode matches the Genome (its namespace's labels and its genome's name), so no key counts for it (Warn and Audit policies never admit on their own)",
    action:
      'add a policy that matches it (kubectl get gtp shows the policies; docs/trust-policies.md), or create the Genome in a namespace a policy governs',
  },
  POLICY_NOT_READY: {
    meaning:
      'a GenomeTrustPolicy that governs the Genome cannot decide: a trust Secret it names is missing or holds no usable key, or its spec cannot be read (fail closed)',
    action:
      'kubectl describe gtp <name> says why; create the missing trust Secret or correct the policy',
  },
  POLICY_INVALID: {
    meaning:
      'a GenomeTrustPolicy cannot be read: a field is missing, of the wrong type, not a field of the spec, or out of bounds (or a policy file given with --policy cannot be read as YAML within its limits)',
    action:
      'fix the field named in the message (kubectl explain gtp.spec; docs/trust-policies.md), then apply the policy or run genome verify again',
  },
  POLICY_REQUIRED_SIGNER_MISSING: {
    meaning:
      'a key id that a governing trust policy requires (spec.requiredKeyIds) is not among the signers that count',
    action:
      'have the holder of that key sign the genome too (genome sign adds to signatures), with a key valid now',
  },
  WEBHOOK_MISCONFIGURED: {
    meaning: 'the webhook received a request it is not configured for',
    action:
      'check the ValidatingWebhookConfiguration rules: they should match only mathison.io genomes',
  },
  TRUST_KEYS_MISSING: {
    meaning: 'there are no usable trusted keys',
    action:
      'create a Secret labelled genome.mathison.io/trusted-keys=true holding public keys, or pass --trust',
  },
  POD_INJECTION_INCOMPLETE: {
    meaning:
      'the pod does not run every application container on the verified genome: the boot check is left out, or a container does not mount the genome or points MATHISON_GENOME_PATH elsewhere',
    action:
      'remove the genome.mathison.io/containers and genome.mathison.io/boot-check annotations and anything the pod mounts at /etc/mathison/genome, and create the pod again through the pod webhook',
  },
  TRUST_KEYS_STALE: {
    meaning:
      'the watch of the trusted-key Secrets has been down longer than its bound, so a key removed meanwhile may still be counted',
    action:
      'check that the operator and webhook reach the API server and may list and watch Secrets in their namespace (their logs say why the watch fails); nothing opens until the keys are current again',
  },
  TRUST_KEY_INVALID: {
    meaning: 'a trusted key entry is not a usable Ed25519 public key',
    action:
      'replace the entry with the base64 SPKI DER or PEM PUBLIC KEY that genome keygen prints',
  },
  TRUST_FILE_MISSING: {
    meaning: 'a trust file given with --trust does not exist or cannot be opened',
    action: 'check the path after --trust (genome keygen prints a trust file on stdout)',
  },
  TRUST_FILE_UNREADABLE: {
    meaning:
      'a trust file cannot be read as strict JSON text (a directory, an empty or non-UTF-8 file, or a JSON syntax error)',
    action:
      'give the file genome keygen wrote to stdout: `genome keygen my-key > my-key.trust.json`',
  },
  TRUST_FILE_INVALID: {
    meaning:
      'a trust file is JSON but not {key_id, alg, public_key} entries (a wrong type or a field that a trust entry does not have)',
    action: 'keep only key_id, alg, public_key (and the optional boolean test) in each entry',
  },
  TRUST_FILE_TOO_LARGE: {
    meaning: 'a trust file is over the byte limit or holds more entries than the limit',
    action: 'split the keys over several trust files; see docs/limits.md for the limits',
  },
  TRUST_FILES_TOO_MANY: {
    meaning: 'more --trust files were given than the CLI accepts',
    action: 'merge trust files (a trust file may hold an array of keys); see docs/limits.md',
  },
  PRIVATE_KEY_EXPOSED: {
    meaning:
      'private key material was found where a public key belongs (a genome authority, a trust file or a trust Secret); it is not used and not printed',
    action:
      'remove it and treat the key as compromised: make a new pair with genome keygen, re-sign, and remove the old public key from every trust store',
  },
  GENOME_ID_MISMATCH: {
    meaning:
      'the mounted genome verifies, but its genome id is not the one the pod was admitted with (the ConfigMap was replaced after admission)',
    action:
      'do not edit published ConfigMaps: delete the pod so that it is admitted again with the current genome, and find out who replaced the ConfigMap',
  },
  GENOME_NOT_VERIFIED: {
    meaning: 'the Genome a pod names exists but its status does not say it is verified',
    action:
      'kubectl describe genome <name>: fix what its Verified condition says (key, signature), then create the pod again',
  },
  GENOME_PUBLICATION_INVALID: {
    meaning:
      "the ConfigMap a verified Genome names in its status is not the Genome's own publication of its verified genome (not controlled by it, another name, mutable, other content, or not yet seen by the webhook)",
    action:
      'if the Genome was verified moments ago, create the pod again in a few seconds; otherwise nobody but the operator may write Genome status or published ConfigMaps: find out who did, and let the operator publish again (kubectl describe genome <name>)',
  },
  POD_GENOME_ANNOTATION_INVALID: {
    meaning:
      'a pod asks for a genome but its genome.mathison.io annotations cannot be honoured (a container named there is not in the pod)',
    action:
      'list only containers of the pod in genome.mathison.io/containers (comma-separated), or remove the annotation to mount the genome in every container',
  },
  POD_GENOME_LABEL_CHANGED: {
    meaning:
      'an existing pod was to gain, lose or change its genome.mathison.io/genome label: a pod names its Genome when it is created, where the genome is injected and checked',
    action:
      'create a new pod with the label you want (for a Deployment, change its pod template); the label of a running pod cannot change',
  },
  GENOME_MANIFEST_ROOT_UNKNOWN: {
    meaning:
      "an application container runs Mathison in production mode (MATHISON_ENV=production or MATHISON_VERIFY_MANIFEST=true, or either set by valueFrom), so the boot check verifies the genome's build manifest against its image, but the pod does not say where in the image Mathison's root is",
    action:
      "set MATHISON_REPO_ROOT to a literal absolute path (the root Mathison checks in the image), or the container's workingDir, and create the pod again",
  },
  WEBHOOK_NOT_READY: {
    meaning:
      'the webhook has not loaded the Genomes (or the published ConfigMaps) of the cluster yet, so it cannot tell whether a pod may start (fail closed)',
    action:
      'create the pod again in a few seconds; if it persists, check the webhook logs and its RBAC (list and watch genomes and configmaps)',
  },
  GENOME_MANIFEST_FILE_MISSING: {
    meaning:
      "a file the genome's build_manifest lists is not under the manifest root (in production, the built …/dist/….js of a listed …/src/….ts)",
    action:
      'build the image (or the directory given with --manifest-root) with that file, or remove the entry from build_manifest and sign the genome again',
  },
  GENOME_MANIFEST_MISMATCH: {
    meaning:
      "the SHA-256 of a file's raw bytes under the manifest root is not the one the genome's build_manifest pins for it",
    action:
      'run the image the genome was built for, or fill the manifest from this build (genome build-manifest, docs/cli.md) and sign the genome again',
  },
  GENOME_MANIFEST_PATH_INVALID: {
    meaning:
      'a build_manifest path cannot be checked safely: it is empty, absolute, has a .. segment, a NUL, control character or backslash, or the file leaves the root through a symlink, or is not a regular file (a directory, FIFO, device), too large or unreadable',
    action:
      'list each file by its plain path relative to the root (for example packages/x/src/index.ts), as a regular file inside the root, and sign the genome again',
  },
  GENOME_MANIFEST_PLACEHOLDER: {
    meaning:
      'a build_manifest entry still has a placeholder hash (one starting with `placeholder`), which production mode refuses (development mode skips it)',
    action:
      'fill in the hashes from the production build (genome build-manifest --production, docs/cli.md) and sign the genome again',
  },
} as const satisfies Record<string, { meaning: string; action: string }>;

/** A stable refusal code. */
export type RefusalCode = keyof typeof REFUSAL_CODES;

/** A refusal: the code, a message that says what is wrong, and the field it concerns. */
export interface Refusal {
  code: RefusalCode;
  message: string;
  field?: string;
}

/** Builds a refusal. */
export function refuse(code: RefusalCode, message: string, field?: string): Refusal {
  return field === undefined ? { code, message } : { code, message, field };
}

/** Returns what to do about a refusal code, for human-facing output. */
export function actionFor(code: RefusalCode): string {
  return REFUSAL_CODES[code].action;
}

/**
 * The genome.v0.1 format as data: the one source of truth from which the strict validator
 * (genome.ts) checks documents and the CRD generator (crd.ts) writes the OpenAPI schema.
 */

/** A node of the schema: a small subset of OpenAPI v3 that both consumers understand. */
export type SchemaNode = StringNode | IntegerNode | ArrayNode | ObjectNode;

interface BaseNode {
  description: string;
}

/** A string, optionally constrained. Patterns are RE2-compatible (the API server uses Go). */
export interface StringNode extends BaseNode {
  type: 'string';
  enum?: readonly string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  /**
   * Must hold something other than whitespace (String.prototype.trim), as upstream's loader
   * requires of these fields. Checked by genome.ts only: RE2 has no Unicode whitespace class,
   * so the CRD cannot say it, and the webhook refuses such a genome before it is stored.
   */
  notBlank?: boolean;
  /**
   * The field holds key material, or a name or signature that a private key may be pasted into
   * by mistake. The CRD leaves out its pattern: the API server's pattern error quotes the value,
   * into kubectl's output and audit logs. The strict validator checks the pattern and names a
   * private key (PRIVATE_KEY_EXPOSED) without quoting it: for a key id even when the pattern
   * matches (base64url or hex of a key does), for a signature only when it does not (a
   * signature is 64 bytes, as a NaCl secret key is).
   */
  keyMaterial?: 'public-key' | 'key-id' | 'signature';
}

/** An integer (JSON number with no fraction). */
export interface IntegerNode extends BaseNode {
  type: 'integer';
  minimum?: number;
}

/** An array whose items all follow one schema. */
export interface ArrayNode extends BaseNode {
  type: 'array';
  items: SchemaNode;
  minItems?: number;
  maxItems?: number;
}

/** An object with exactly the listed properties: anything else is outside the format. */
export interface ObjectNode extends BaseNode {
  type: 'object';
  properties: Readonly<Record<string, SchemaNode>>;
  required: readonly string[];
}

/** The only schema_version this project accepts. */
export const SCHEMA_VERSION = 'genome.v0.1';

/** semver 2.0.0, from semver.org, without look-arounds so that RE2 accepts it. */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/** ISO-8601 / RFC 3339 date-time, as upstream writes created_at. */
export const DATE_TIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,9})?(?:Z|[+-]\\d{2}:\\d{2})$';

/** A genome id: lowercase hex SHA-256. */
export const GENOME_ID_PATTERN = '^[0-9a-f]{64}$';

/**
 * A public key exactly as DESIGN.md encodes it and as Mathison decodes it: canonical base64 of
 * the 44-byte Ed25519 SPKI DER (the last character carries two zero padding bits). Anything
 * else (PEM, whitespace, other lengths) could be read differently by Mathison at boot.
 */
export const PUBLIC_KEY_PATTERN = '^MCowBQYDK2VwAyEA[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$';

/** A signature: canonical base64 of 64 bytes (88 characters, four zero padding bits). */
export const SIGNATURE_PATTERN = '^[A-Za-z0-9+/]{85}[AQgw]==$';

/** At most this many declared signers and signatures: keeps the stored object bounded. */
export const MAX_SIGNERS = 32;

/** A key id must be usable as a Secret data key, since trust Secrets are keyed by it. */
export const KEY_ID_PATTERN = '^[-._a-zA-Z0-9]{1,253}$';

const str = (description: string, extra: Omit<StringNode, 'type' | 'description'> = {}) =>
  ({ type: 'string', description, ...extra }) as const satisfies StringNode;

const strings = (description: string, item: string) =>
  ({ type: 'array', description, items: str(item) }) as const satisfies ArrayNode;

const signatureNode: ObjectNode = {
  type: 'object',
  description: 'An Ed25519 signature over the canonical bytes of the genome.',
  required: ['alg', 'signer_key_id', 'sig_base64'],
  properties: {
    alg: str('Signature algorithm; only ed25519.', { enum: ['ed25519'] }),
    signer_key_id: str('key_id of the signer, as listed in authority.signers.', {
      pattern: KEY_ID_PATTERN,
      keyMaterial: 'key-id',
    }),
    sig_base64: str('Base64 of the 64 raw Ed25519 signature bytes (88 characters).', {
      pattern: SIGNATURE_PATTERN,
      keyMaterial: 'signature',
    }),
  },
};

/** The genome.v0.1 document. */
export const GENOME_SCHEMA: ObjectNode = {
  type: 'object',
  description:
    'A signed Mathison genome (format genome.v0.1): invariants and capability ceilings, signed with Ed25519. Stored exactly as signed.',
  required: [
    'schema_version',
    'name',
    'version',
    'parents',
    'created_at',
    'authority',
    'invariants',
    'capabilities',
    'build_manifest',
  ],
  properties: {
    schema_version: str('Format of the document; must be genome.v0.1.', { enum: [SCHEMA_VERSION] }),
    name: str('Name of the genome, for example TOTK_ROOT.', { minLength: 1, notBlank: true }),
    version: str('Semantic version of the genome; updates may not lower it.', {
      pattern: SEMVER_PATTERN,
    }),
    parents: {
      type: 'array',
      description:
        'Genome ids (lowercase hex SHA-256 of canonical bytes) this genome derives from.',
      items: str('A parent genome id.', { pattern: GENOME_ID_PATTERN }),
    },
    created_at: str('Creation time, ISO-8601 (for example 2025-12-31T00:00:00Z).', {
      pattern: DATE_TIME_PATTERN,
    }),
    authority: {
      type: 'object',
      description: 'Who may sign this genome and how many of them must.',
      required: ['signers', 'threshold'],
      properties: {
        signers: {
          type: 'array',
          description:
            'Declared signers. A signer counts only when its key_id and public key both match a key the cluster trusts.',
          minItems: 1,
          maxItems: MAX_SIGNERS,
          items: {
            type: 'object',
            description: 'A declared signer.',
            required: ['key_id', 'alg', 'public_key'],
            properties: {
              key_id: str('Identifier of the key; also its entry name in trust Secrets.', {
                pattern: KEY_ID_PATTERN,
                keyMaterial: 'key-id',
              }),
              alg: str('Key algorithm; only ed25519.', { enum: ['ed25519'] }),
              public_key: str(
                'Base64 of the Ed25519 DER SubjectPublicKeyInfo: 60 characters starting MCowBQYDK2VwAyEA.',
                { pattern: PUBLIC_KEY_PATTERN, keyMaterial: 'public-key' },
              ),
            },
          },
        },
        threshold: {
          type: 'integer',
          description: 'How many distinct trusted signers must sign (1 to the number of signers).',
          minimum: 1,
        },
      },
    },
    invariants: {
      type: 'array',
      description: 'Invariants the Mathison server enforces.',
      items: {
        type: 'object',
        description: 'One invariant.',
        required: ['id', 'severity', 'testable_claim', 'enforcement_hook'],
        properties: {
          id: str('Invariant id, for example INV-001.', { minLength: 1, notBlank: true }),
          severity: str('CRITICAL, HIGH or MEDIUM.', { enum: ['CRITICAL', 'HIGH', 'MEDIUM'] }),
          testable_claim: str('What the invariant claims, in a testable form.'),
          enforcement_hook: str('Where Mathison enforces it.'),
        },
      },
    },
    capabilities: {
      type: 'array',
      description: 'Capability ceilings: the actions each capability allows and denies.',
      items: {
        type: 'object',
        description: 'One capability.',
        required: ['cap_id', 'risk_class', 'allow_actions', 'deny_actions'],
        properties: {
          cap_id: str('Capability id, for example CAP-HEALTH.', { minLength: 1, notBlank: true }),
          risk_class: str('Risk class A (lowest) to D.', { enum: ['A', 'B', 'C', 'D'] }),
          allow_actions: strings('Actions this capability allows.', 'An action name.'),
          deny_actions: strings('Actions this capability denies.', 'An action name.'),
        },
      },
    },
    build_manifest: {
      type: 'object',
      description: 'Files of the Mathison build this genome governs.',
      required: ['files'],
      properties: {
        files: {
          type: 'array',
          description: 'Files and their SHA-256 digests.',
          items: {
            type: 'object',
            description: 'One file.',
            required: ['path', 'sha256'],
            properties: {
              path: str('Path of the file in the build.', { notBlank: true }),
              sha256: str('SHA-256 of the file.', { notBlank: true }),
            },
          },
        },
      },
    },
    signature: {
      ...signatureNode,
      description:
        'A signature (the form upstream genome-sign writes); read together with signatures.',
    },
    signatures: {
      type: 'array',
      description:
        'Signatures (multi-signer form), read together with signature: a genome carries either or both. genome-sign adds further signers here.',
      maxItems: MAX_SIGNERS,
      items: signatureNode,
    },
  },
};

import {
  FIELD_MANAGER,
  GENOME_API_VERSION,
  GENOME_CONFIGMAP_KEY,
  GENOME_ID_ANNOTATION,
  GENOME_KIND,
  GENOME_LABEL,
  GENOME_UID_LABEL,
  MANAGED_BY_LABEL,
  SHORT_ID_LENGTH,
  shortGenomeId,
  TRUSTED_KEYS_CONFIGMAP_KEY,
} from './api.ts';
import { sha256Hex } from './canonical.ts';
import type { TrustedKey } from './trust.ts';
import type { Verified } from './verify.ts';

/** The Genome a ConfigMap is rendered for. */
export interface GenomeRef {
  name: string;
  namespace: string;
  uid: string;
}

/** An immutable ConfigMap that publishes one verified genome. */
export interface PublishedConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: true;
      blockOwnerDeletion: true;
    }[];
  };
  immutable: true;
  data: Record<string, string>;
}

// A DNS-1123 label (63), so the name also fits a label value and a volume name.
const MAX_NAME = 63;
const NAME_ROOM = MAX_NAME - SHORT_ID_LENGTH - 1;
/** Hex digits of the name's SHA-256 in a hashed name: 64 bits, too many to find a collision. */
const NAME_HASH_LENGTH = 16;

/**
 * The ConfigMap name of a Genome's genome: `<genome name>-<short id>`, a DNS-1123 label of at
 * most 63 characters, different for every Genome name of a namespace. A name kept as it is has
 * no dot, no `--` and at most 50 characters; any other name (`totk.v1`, a long one) becomes
 * `<prefix, dots as dashes>--<16 hex of the SHA-256 of the whole name>`, which always holds a
 * `--` and so is never a name kept as it is: `totk.v1` and `totk-v1` cannot share a ConfigMap.
 */
export function configMapName(genomeName: string, genomeId: string): string {
  const kept =
    genomeName.length <= NAME_ROOM && /^[a-z0-9-]+$/.test(genomeName) && !genomeName.includes('--');
  return `${kept ? genomeName : hashedName(genomeName)}-${shortGenomeId(genomeId)}`;
}

function hashedName(genomeName: string): string {
  const room = NAME_ROOM - NAME_HASH_LENGTH - 2;
  const prefix = genomeName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, room)
    .replace(/^-+|-+$/g, '');
  const hash = sha256Hex(Buffer.from(genomeName)).slice(0, NAME_HASH_LENGTH);
  return `${prefix || 'genome'}--${hash}`;
}

/**
 * The name configMapName gave before names were made unique per Genome (dots as dashes, 8 hex
 * of a long name's hash): an older ConfigMap of that name that the Genome owns is still its own
 * (its pods keep their gates across the upgrade until their rollout).
 */
export function legacyConfigMapName(genomeName: string, genomeId: string): string {
  const safe = genomeName.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const base =
    safe.length <= NAME_ROOM
      ? safe
      : `${safe.slice(0, NAME_ROOM - 9)}-${sha256Hex(Buffer.from(genomeName)).slice(0, 8)}`;
  const trimmed = base.replace(/^-+|-+$/g, '') || 'genome';
  return `${trimmed}-${shortGenomeId(genomeId)}`;
}

/** The trust-file entries of the keys that verified a genome, sorted by key id. */
export function verifyingKeys(
  verified: Verified,
  keys: readonly TrustedKey[],
): { key_id: string; alg: 'ed25519'; public_key: string; test?: true }[] {
  return keys
    .filter((k) => verified.signers.includes(k.keyId))
    .sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0))
    .map((k) => ({
      key_id: k.keyId,
      alg: 'ed25519' as const,
      public_key: k.key.spkiBase64,
      ...(k.test && { test: true as const }),
    }));
}

/**
 * The immutable ConfigMap that publishes a verified genome: `genome.json` is the genome as the
 * API server stores it (Mathison's loader computes the same id from it), `trusted-keys.json`
 * the trusted keys that verified it; owned by the Genome (controller), so deleting the Genome
 * deletes it.
 */
export function desiredConfigMap(
  owner: GenomeRef,
  storedGenome: unknown,
  verified: Verified,
  keys: readonly TrustedKey[],
): PublishedConfigMap {
  const name = configMapName(owner.name, verified.genomeId);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: owner.namespace,
      labels: {
        [MANAGED_BY_LABEL]: FIELD_MANAGER,
        [GENOME_UID_LABEL]: owner.uid,
        ...(owner.name.length <= MAX_NAME && { [GENOME_LABEL]: owner.name }),
      },
      annotations: { [GENOME_ID_ANNOTATION]: verified.genomeId },
      ownerReferences: [
        {
          apiVersion: GENOME_API_VERSION,
          kind: GENOME_KIND,
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    immutable: true,
    data: {
      [GENOME_CONFIGMAP_KEY]: `${JSON.stringify(storedGenome, null, 2)}\n`,
      [TRUSTED_KEYS_CONFIGMAP_KEY]: `${JSON.stringify(verifyingKeys(verified, keys), null, 2)}\n`,
    },
  };
}

/**
 * A digest of a ConfigMap's data (every key and value, in key order): what the operator's
 * ConfigMap cache keeps instead of the data, to tell whether a published ConfigMap still holds
 * what it should.
 */
export function configMapDataDigest(data: Readonly<Record<string, string>>): string {
  const parts = Object.keys(data)
    .sort()
    .flatMap((key) => [key, data[key]!]);
  return sha256Hex(Buffer.from(JSON.stringify(parts)));
}

import { TEST_KEYS_ANNOTATION } from './api.ts';
import { decodeBase64Strict } from './base64.ts';
import { refuse, type Refusal } from './codes.ts';
import { ED25519_SPKI_PREFIX, importEd25519PublicKey, type Ed25519PublicKey } from './ed25519.ts';
import { KEY_ID_PATTERN } from './genome-schema.ts';
import { parseStrictJson } from './strict-json.ts';

/** A key the cluster (or the caller) trusts: key id, validated public key, where it came from. */
export interface TrustedKey {
  keyId: string;
  key: Ed25519PublicKey;
  /** A key marked as a test key: genomes it signs verify, with a warning. */
  test: boolean;
  source: string;
  /** The Secret entry it was read from, when it came from a Secret. */
  origin?: TrustOrigin;
}

/** A trust entry's place in the cluster: the Secret and the data entry (key) within it. */
export interface TrustOrigin {
  namespace: string;
  name: string;
  entry: string;
}

/** One key entry before parsing: an id, the encoded public key, and a description of its origin. */
export interface TrustEntry {
  keyId: string;
  value: string;
  source: string;
  test?: boolean;
  origin?: TrustOrigin;
}

/** A trust entry that was refused, and whether it held private key material. */
export interface TrustProblem extends Refusal {
  keyId: string;
  source: string;
  privateKey: boolean;
  /** Every Secret entry involved (two or more for a key id claimed with different keys). */
  origins: TrustOrigin[];
}

/** The usable keys and the refused entries of a trust source. */
export interface TrustSet {
  keys: TrustedKey[];
  problems: TrustProblem[];
}

const OID_NAMES: Record<string, string> = {
  '2b6570': 'Ed25519',
  '2b6571': 'Ed448',
  '2b656e': 'X25519',
  '2b656f': 'X448',
  '2a8648ce3d0201': 'EC (ECDSA/ECDH)',
  '2a864886f70d010101': 'RSA',
};

const PEM = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----\s*$/;

/** Why a public key text was refused; `privateKey` marks private key material. */
export interface KeyDecodeError {
  reason: string;
  privateKey: boolean;
}

const problem = (reason: string, privateKey = false): KeyDecodeError => ({ reason, privateKey });

/**
 * Decodes a public key given as base64 SPKI DER or as a PEM PUBLIC KEY block, and validates
 * it as Ed25519. Refuses private keys, other algorithms, wrong lengths, non-canonical
 * encodings and keys of small order, each with its own reason.
 */
export function decodePublicKey(text: string): Ed25519PublicKey | KeyDecodeError {
  const trimmed = text.trim();
  let der: Uint8Array | undefined;
  if (trimmed.startsWith('-----BEGIN')) {
    const pem = PEM.exec(trimmed);
    if (pem === null) return problem('the PEM block is malformed');
    if (pem[1]?.includes('PRIVATE KEY')) return privateKeyProblem();
    if (pem[1] !== 'PUBLIC KEY') return problem(`a PEM "${pem[1]}" block is not a PUBLIC KEY`);
    der = decodeBase64Strict((pem[2] ?? '').replace(/\r?\n/g, ''));
  } else {
    der = decodeBase64Strict(trimmed);
  }
  if (der === undefined)
    return problem('the key is not canonical base64 (standard alphabet, padded)');
  return decodeSpki(der);
}

function privateKeyProblem(): KeyDecodeError {
  return problem(
    'this is a PRIVATE key; trust entries must hold public keys only. Remove it and rotate the key: whoever can read this store can now sign',
    true,
  );
}

function decodeSpki(der: Uint8Array): Ed25519PublicKey | KeyDecodeError {
  if (looksLikePkcs8(der)) return privateKeyProblem();
  const algorithm = spkiAlgorithm(der);
  if (algorithm !== undefined && algorithm !== 'Ed25519') {
    return problem(`the key is ${algorithm}, not Ed25519`);
  }
  if (der.length !== ED25519_SPKI_PREFIX.length + 32) {
    if (der.length === 32) return problem('this is a raw 32-byte key; give it as base64 SPKI DER');
    // 64 bytes is the NaCl/libsodium secret key layout (seed followed by public key).
    if (der.length === 64) return privateKeyProblem();
    return problem(`an Ed25519 SPKI is 44 bytes, this one is ${der.length}`);
  }
  if (!ED25519_SPKI_PREFIX.every((b, i) => der[i] === b)) {
    return problem('the bytes are not an Ed25519 SubjectPublicKeyInfo in canonical DER');
  }
  const key = importEd25519PublicKey(der.subarray(ED25519_SPKI_PREFIX.length));
  return typeof key === 'string' ? problem(key) : key;
}

/** PKCS#8: SEQUENCE { INTEGER version (0 or 1), SEQUENCE { OID ... }, OCTET STRING ... }. */
function looksLikePkcs8(der: Uint8Array): boolean {
  const headerLength = der[1] !== undefined && der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
  return (
    der[0] === 0x30 &&
    der[headerLength] === 0x02 &&
    der[headerLength + 1] === 0x01 &&
    (der[headerLength + 2] === 0x00 || der[headerLength + 2] === 0x01)
  );
}

/** Reads the algorithm OID of an SPKI well enough to name it; undefined when unknown. */
function spkiAlgorithm(der: Uint8Array): string | undefined {
  const hex = Buffer.from(der.subarray(0, 32)).toString('hex');
  for (const [oid, name] of Object.entries(OID_NAMES)) {
    const length = (oid.length / 2).toString(16).padStart(2, '0');
    if (hex.includes(`06${length}${oid}`)) return name;
  }
  return undefined;
}

/** Parses trust entries into usable keys and refused entries (never throws). */
export function parseTrustedKeys(entries: readonly TrustEntry[]): TrustSet {
  const keys: TrustedKey[] = [];
  const problems: TrustProblem[] = [];
  for (const entry of entries) {
    const refusal = (reason: string, privateKey = false): TrustProblem => ({
      ...refuse('TRUST_KEY_INVALID', `trusted key ${entry.keyId} (${entry.source}): ${reason}`),
      keyId: entry.keyId,
      source: entry.source,
      privateKey,
      origins: entry.origin ? [entry.origin] : [],
    });
    if (!new RegExp(KEY_ID_PATTERN).test(entry.keyId)) {
      problems.push(refusal(`key id must match ${KEY_ID_PATTERN}`));
      continue;
    }
    const key = decodePublicKey(entry.value);
    if ('reason' in key) problems.push(refusal(key.reason, key.privateKey));
    else
      keys.push({
        keyId: entry.keyId,
        key,
        test: entry.test === true,
        source: entry.source,
        origin: entry.origin,
      });
  }
  return { keys, problems };
}

/**
 * Reads a trust file: one {key_id, alg, public_key} object or an array of them (what
 * genome-keygen prints). An optional boolean `test` marks a test key. Entries that are not
 * usable keys are returned as problems; a file that is not such JSON is one refusal.
 */
export function parseTrustFile(text: string, source: string): TrustSet | Refusal {
  const parsed = parseStrictJson(text);
  if (!parsed.ok) {
    const asKey = decodePublicKey(text);
    const reason = 'reason' in asKey && asKey.privateKey ? asKey.reason : parsed.refusal.message;
    return refuse('TRUST_KEY_INVALID', `${source}: ${reason}`);
  }
  const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  const entries: TrustEntry[] = [];
  for (const [i, item] of list.entries()) {
    const entry = trustFileEntry(item, `${source}[${i}]`);
    if (typeof entry === 'string') return refuse('TRUST_KEY_INVALID', entry);
    entries.push(entry);
  }
  return parseTrustedKeys(entries);
}

function trustFileEntry(item: unknown, where: string): TrustEntry | string {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    return `${where}: expected an object {key_id, alg, public_key}`;
  }
  const {
    key_id: keyId,
    alg,
    public_key: value,
    test,
    private_key: privateKey,
  } = item as Record<string, unknown>;
  if (privateKey !== undefined)
    return `${where}: holds a private_key; a trust file holds public keys only`;
  if (typeof keyId !== 'string' || typeof value !== 'string') {
    return `${where}: key_id and public_key must be strings`;
  }
  const problem = optionalFieldsProblem(alg, test);
  if (problem !== undefined) return `${where}: ${problem}`;
  return { keyId, value, source: where, test: test === true };
}

function optionalFieldsProblem(alg: unknown, test: unknown): string | undefined {
  if (alg !== undefined && alg !== 'ed25519') return 'alg must be ed25519';
  if (test !== undefined && typeof test !== 'boolean') return 'test must be a boolean';
  return undefined;
}

/** The keys a genome declares for itself, for the upstream-style self-check (not a trust decision). */
export function declaredKeys(signers: readonly { key_id: string; public_key: string }[]): TrustSet {
  return parseTrustedKeys(
    signers.map((s, i) => ({
      keyId: s.key_id,
      value: s.public_key,
      source: `authority.signers[${i}]`,
    })),
  );
}

/** The trust Secret's label and test-key annotation (defined in core/api.ts). */
export { TEST_KEYS_ANNOTATION, TRUSTED_KEYS_LABEL } from './api.ts';

/** The parts of a Secret that trust is read from. */
export interface TrustSecret {
  metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/**
 * Reads trusted keys from Secrets: each data entry is one key (entry name = key id, value =
 * base64 SPKI DER or PEM, base64-encoded again by the Secret). An id defined by two Secrets
 * with different keys is refused in both: which one is meant cannot be told.
 */
export function trustFromSecrets(secrets: readonly TrustSecret[]): TrustSet {
  return withoutConflicts(parseTrustedKeys(secrets.flatMap(secretEntries)));
}

function secretEntries(secret: TrustSecret): TrustEntry[] {
  const metadata = secret.metadata ?? {};
  const source = `Secret ${metadata.namespace ?? ''}/${metadata.name ?? ''}`;
  const testKeys = (metadata.annotations ?? {})[TEST_KEYS_ANNOTATION] ?? '';
  const tests = new Set(testKeys.split(',').map((s) => s.trim()));
  return Object.entries(secret.data ?? {}).map(([keyId, encoded]) => ({
    keyId,
    value: Buffer.from(encoded, 'base64').toString('utf8'),
    source,
    test: tests.has(keyId),
    origin: { namespace: metadata.namespace ?? '', name: metadata.name ?? '', entry: keyId },
  }));
}

/** Joins trust sets (several trust files), refusing a key id that they give different keys. */
export function mergeTrustSets(sets: readonly TrustSet[]): TrustSet {
  return withoutConflicts({
    keys: sets.flatMap((s) => s.keys),
    problems: sets.flatMap((s) => s.problems),
  });
}

function withoutConflicts(set: TrustSet): TrustSet {
  const byId = new Map<string, TrustedKey[]>();
  for (const key of set.keys) byId.set(key.keyId, [...(byId.get(key.keyId) ?? []), key]);
  const keys: TrustedKey[] = [];
  const problems = [...set.problems];
  for (const [keyId, list] of byId) {
    const distinct = new Set(list.map((k) => k.key.spkiBase64));
    const first = list[0] as TrustedKey;
    if (distinct.size === 1) {
      keys.push({ ...first, test: list.some((k) => k.test) });
      continue;
    }
    const sources = list.map((k) => k.source).join(', ');
    problems.push({
      ...refuse(
        'TRUST_KEY_INVALID',
        `key id ${keyId} has different public keys in ${sources}; neither is trusted until one is removed`,
      ),
      keyId,
      source: sources,
      privateKey: false,
      origins: list.flatMap((k) => (k.origin ? [k.origin] : [])),
    });
  }
  return { keys, problems };
}

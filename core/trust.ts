import { NOT_AFTER_ANNOTATION, NOT_BEFORE_ANNOTATION, TEST_KEYS_ANNOTATION } from './api.ts';
import { decodeBase64Strict } from './base64.ts';
import { refuse, type Refusal } from './codes.ts';
import { displayValue } from './display.ts';
import { ED25519_SPKI_PREFIX, importEd25519PublicKey, type Ed25519PublicKey } from './ed25519.ts';
import { KEY_ID_PATTERN } from './genome-schema.ts';
import {
  findPrivateKeyMaterial,
  isPrivateKeyFieldName,
  privateKeyBytesKind,
  privateKeyKind,
} from './key-material.ts';
import { parseStrictJson, type JsonValue } from './strict-json.ts';

/** Largest trust file a tool reads, in bytes; see docs/limits.md. */
export const MAX_TRUST_FILE_BYTES = 64 * 1024;

/** Most trust files one command takes (--trust given this many times at most). */
export const MAX_TRUST_FILES = 8;

/** Most entries one trust file may hold; see docs/limits.md. */
export const MAX_TRUST_FILE_ENTRIES = 64;

/** The fields a trust file entry may have: what genome-keygen prints, and the test mark. */
export const TRUST_ENTRY_FIELDS: readonly string[] = ['key_id', 'alg', 'public_key', 'test'];

/** A key the cluster (or the caller) trusts: key id, validated public key, where it came from. */
export interface TrustedKey {
  keyId: string;
  key: Ed25519PublicKey;
  /** A key marked as a test key: genomes it signs verify, with a warning. */
  test: boolean;
  source: string;
  /** The Secret entry it was read from, when it came from a Secret. */
  origin?: TrustOrigin;
  /**
   * Each place that holds this key and its terms there (a key id in two Secrets with the same
   * key is one TrustedKey of two holders). Absent: one holder, no Secret, no window.
   */
  holders?: KeyHolder[];
}

/** A place that holds a trusted key, and its terms there: test mark and validity window. */
export interface KeyHolder {
  /** The trust Secret's name (in the operator's namespace); absent for a trust file. */
  secret?: string;
  test: boolean;
  /** Epoch milliseconds before which the key does not count (annotation not-before). */
  notBefore?: number;
  /** Epoch milliseconds from which the key no longer counts (annotation not-after). */
  notAfter?: number;
}

/** The holders of a key (one without Secret or window when it has none recorded). */
export function holdersOf(key: TrustedKey): KeyHolder[] {
  return key.holders ?? [{ test: key.test }];
}

/** Whether a holder's window contains `now` (not-before inclusive, not-after exclusive). */
export function holderInWindow(holder: KeyHolder, now: number): boolean {
  return (
    (holder.notBefore === undefined || now >= holder.notBefore) &&
    (holder.notAfter === undefined || now < holder.notAfter)
  );
}

/** Whether the key counts at `now` anywhere: some holder of it is within its window. */
export function keyInWindow(key: TrustedKey, now: number): boolean {
  return holdersOf(key).some((h) => holderInWindow(h, now));
}

/**
 * The next instant after `now` at which some key enters or leaves its window, or undefined:
 * when a verdict may change with no event at all.
 */
export function nextKeyBoundary(keys: readonly TrustedKey[], now: number): number | undefined {
  const times = keys
    .flatMap((k) => holdersOf(k))
    .flatMap((h) => [h.notBefore, h.notAfter])
    .filter((t): t is number => t !== undefined && t > now);
  return times.length === 0 ? undefined : Math.min(...times);
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
  /** The validity window its holder gives it (epoch milliseconds). */
  notBefore?: number;
  notAfter?: number;
  /** Why the holder's terms cannot be read (an unreadable window): the entry is refused. */
  invalid?: string;
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
  const privateKind = privateKeyKind(trimmed);
  if (privateKind !== undefined) return privateKeyProblem(privateKind);
  let der: Uint8Array | undefined;
  if (trimmed.startsWith('-----BEGIN')) {
    const pem = PEM.exec(trimmed);
    if (pem === null) return problem('the PEM block is malformed');
    if (pem[1] !== 'PUBLIC KEY') return problem(`a PEM "${pem[1]}" block is not a PUBLIC KEY`);
    der = decodeBase64Strict((pem[2] ?? '').replace(/\r?\n/g, ''));
  } else {
    der = decodeBase64Strict(trimmed);
  }
  if (der === undefined)
    return problem('the key is not canonical base64 (standard alphabet, padded)');
  return decodeSpki(der);
}

/** The reason given for private key material; it names the kind, never the value. */
export function privateKeyReason(kind: string): string {
  return `this is a PRIVATE key (${kind}), where a public key belongs; it is not used and not shown. Remove it and rotate the key: whoever could read it can sign`;
}

function privateKeyProblem(kind: string): KeyDecodeError {
  return problem(privateKeyReason(kind), true);
}

function decodeSpki(der: Uint8Array): Ed25519PublicKey | KeyDecodeError {
  const privateKind = privateKeyBytesKind(der);
  if (privateKind !== undefined) return privateKeyProblem(privateKind);
  const algorithm = spkiAlgorithm(der);
  if (algorithm !== undefined && algorithm !== 'Ed25519') {
    return problem(`the key is ${algorithm}, not Ed25519`);
  }
  if (der.length !== ED25519_SPKI_PREFIX.length + 32) {
    if (der.length === 32) return problem('this is a raw 32-byte key; give it as base64 SPKI DER');
    return problem(`an Ed25519 SPKI is 44 bytes, this one is ${der.length}`);
  }
  if (!ED25519_SPKI_PREFIX.every((b, i) => der[i] === b)) {
    return problem('the bytes are not an Ed25519 SubjectPublicKeyInfo in canonical DER');
  }
  const key = importEd25519PublicKey(der.subarray(ED25519_SPKI_PREFIX.length));
  return typeof key === 'string' ? problem(key) : key;
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
      ...refuse(
        privateKey ? 'PRIVATE_KEY_EXPOSED' : 'TRUST_KEY_INVALID',
        `trusted key ${displayValue(entry.keyId)} (${entry.source}): ${reason}`,
      ),
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
    else if (entry.invalid !== undefined) problems.push(refusal(entry.invalid));
    else keys.push(trustedKey(entry, key));
  }
  return { keys, problems };
}

function trustedKey(entry: TrustEntry, key: Ed25519PublicKey): TrustedKey {
  const test = entry.test === true;
  const holder: KeyHolder = {
    ...(entry.origin && { secret: entry.origin.name }),
    test,
    ...(entry.notBefore !== undefined && { notBefore: entry.notBefore }),
    ...(entry.notAfter !== undefined && { notAfter: entry.notAfter }),
  };
  return {
    keyId: entry.keyId,
    key,
    test,
    source: entry.source,
    origin: entry.origin,
    holders: [holder],
  };
}

/**
 * Reads a trust file: one {key_id, alg, public_key} object or an array of at most
 * MAX_TRUST_FILE_ENTRIES of them (what genome-keygen prints). An optional boolean `test` marks
 * a test key; any other field is refused. Private key material anywhere in the file is refused
 * as such (PRIVATE_KEY_EXPOSED), before anything else is said about the file. Entries that are
 * not usable keys are returned as problems; a file that is not such JSON is one refusal.
 */
export function parseTrustFile(text: string, source: string): TrustSet | Refusal {
  const parsed = parseStrictJson(text);
  if (!parsed.ok) {
    const kind = findPrivateKeyMaterial(text);
    if (kind !== undefined)
      return refuse('PRIVATE_KEY_EXPOSED', `${source}: ${privateKeyReason(kind)}`);
    return refuse('TRUST_FILE_UNREADABLE', `${source}: ${parsed.refusal.message}`);
  }
  const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  if (list.length > MAX_TRUST_FILE_ENTRIES) {
    const message = `${source} holds ${list.length} entries, over the limit of ${MAX_TRUST_FILE_ENTRIES}`;
    return refuse('TRUST_FILE_TOO_LARGE', message);
  }
  const leak = list.map((item, i) => privateEntryProblem(item, `${source}[${i}]`)).find(Boolean);
  if (leak !== undefined) return leak;
  const entries: TrustEntry[] = [];
  for (const [i, item] of list.entries()) {
    const entry = trustFileEntry(item, `${source}[${i}]`);
    if ('code' in entry) return entry;
    entries.push(entry);
  }
  return parseTrustedKeys(entries);
}

/** A refusal when an entry holds private key material: by a field's name or by a value. */
function privateEntryProblem(item: JsonValue, where: string): Refusal | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined;
  for (const [name, value] of Object.entries(item)) {
    const kind = findPrivateKeyMaterial(typeof value === 'string' ? value : JSON.stringify(value));
    if (kind !== undefined) {
      return refuse(
        'PRIVATE_KEY_EXPOSED',
        `${where}.${displayValue(name)}: ${privateKeyReason(kind)}`,
      );
    }
    if (isPrivateKeyFieldName(name)) {
      const message = `${where} has a field ${displayValue(name)}, which names a private key; a trust file holds public keys only, and the value is not shown. Remove it and rotate that key`;
      return refuse('PRIVATE_KEY_EXPOSED', message);
    }
  }
  return undefined;
}

function trustFileEntry(item: unknown, where: string): TrustEntry | Refusal {
  const invalid = (message: string) => refuse('TRUST_FILE_INVALID', `${where}: ${message}`);
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    return invalid('expected an object {key_id, alg, public_key}');
  }
  const fields = item as Record<string, unknown>;
  const extra = Object.keys(fields).find((name) => !TRUST_ENTRY_FIELDS.includes(name));
  if (extra !== undefined) {
    return invalid(
      `${displayValue(extra)} is not a field of a trust entry (only ${TRUST_ENTRY_FIELDS.join(', ')})`,
    );
  }
  const { key_id: keyId, alg, public_key: value, test } = fields;
  if (typeof keyId !== 'string' || typeof value !== 'string') {
    return invalid('key_id and public_key must be strings');
  }
  const problem = optionalFieldsProblem(alg, test);
  if (problem !== undefined) return invalid(problem);
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
  const annotations = metadata.annotations ?? {};
  const testKeys = annotations[TEST_KEYS_ANNOTATION] ?? '';
  const tests = new Set(testKeys.split(',').map((s) => s.trim()));
  const window = keyWindow(annotations);
  return Object.entries(secret.data ?? {}).map(([keyId, encoded]) => ({
    keyId,
    value: Buffer.from(encoded, 'base64').toString('utf8'),
    source,
    test: tests.has(keyId),
    origin: { namespace: metadata.namespace ?? '', name: metadata.name ?? '', entry: keyId },
    ...window,
  }));
}

/** RFC 3339 date-time, with an offset (what Kubernetes and cert-manager write). */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time in epoch milliseconds, or NaN: strictly, with no calendar roll-over
 * (Date.parse reads 2027-02-29 as March 1st and 24:00 as the next day, which would move a
 * key's not-after by a day). A leap second (:60) is refused too.
 */
export function parseRfc3339(text: string): number {
  const m = RFC3339.exec(text.trim());
  if (m === null) return NaN;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [
    1, 2, 3, 4, 5, 6, 9, 10,
  ].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day));
  const calendar = date.toISOString().slice(0, 10) === m[0].trim().slice(0, 10);
  const clock = Math.max(hour - 23, minute - 59, second - 59, offsetHours - 23, offsetMinutes - 59);
  return calendar && clock <= 0 ? Date.parse(text.trim()) : NaN;
}

/**
 * The window a trust Secret gives its keys (annotations not-before and not-after, RFC 3339),
 * or why it cannot be read: then none of its keys is trusted (fail closed).
 */
function keyWindow(
  annotations: Record<string, string>,
): Pick<TrustEntry, 'notBefore' | 'notAfter' | 'invalid'> {
  const read = (name: string) => {
    const text = annotations[name];
    if (text === undefined) return undefined;
    const ms = parseRfc3339(text);
    return Number.isNaN(ms) ? `the annotation ${name} is not an RFC 3339 time` : ms;
  };
  const notBefore = read(NOT_BEFORE_ANNOTATION);
  const notAfter = read(NOT_AFTER_ANNOTATION);
  if (typeof notBefore === 'string') return { invalid: notBefore };
  if (typeof notAfter === 'string') return { invalid: notAfter };
  if (notBefore !== undefined && notAfter !== undefined && notAfter <= notBefore)
    return { invalid: `${NOT_AFTER_ANNOTATION} is not after ${NOT_BEFORE_ANNOTATION}` };
  return {
    ...(notBefore !== undefined && { notBefore }),
    ...(notAfter !== undefined && { notAfter }),
  };
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
      const holders = list.flatMap(holdersOf);
      keys.push({ ...first, test: list.some((k) => k.test), holders });
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

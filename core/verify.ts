import { decodeBase64Strict } from './base64.ts';
import { canonicalBytes, sha256Hex } from './canonical.ts';
import { refuse, type Refusal } from './codes.ts';
import { verifyEd25519, type Ed25519PublicKey } from './ed25519.ts';
import {
  signaturesOf,
  validateGenome,
  type Genome,
  type GenomeResult,
  type GenomeSignature,
} from './genome.ts';
import { decodePublicKey, type TrustedKey } from './trust.ts';
import { impersonated, judgeFlat, type GenomeFacts } from './trust-policy.ts';

/** What the caller requires beyond the genome's own rules. */
export interface VerifyPolicy {
  /** Largest canonical size accepted, in bytes. */
  maxBytes: number;
  /** At least this many distinct trusted signers, whatever the genome's own threshold says. */
  minSigners?: number;
  /** When the keys' validity windows are judged (epoch milliseconds; default: now). */
  now?: number;
  /** Results of signatures verified before, reused (SignatureCache). */
  signatures?: SignatureCache;
}

/** Most signature results a SignatureCache keeps (each ~200 bytes). */
const SIGNATURE_CACHE_LIMIT = 50_000;

/**
 * Signature results by (the genome's id, the signer's key id and declared key, the signature):
 * whether it verified. A signature's result depends on nothing else, so a verdict under other
 * keys or policies never verifies it again. Bounded: cleared whole when full.
 */
export class SignatureCache {
  private readonly results = new Map<string, boolean>();
  /** Verifications done (not answered from the cache): what a benchmark counts. */
  verifications = 0;

  constructor(private readonly limit = SIGNATURE_CACHE_LIMIT) {}

  /** The cached result, or `check()`'s, remembered. */
  result(key: string, check: () => boolean): boolean {
    const known = this.results.get(key);
    if (known !== undefined) return known;
    const ok = check();
    this.verifications += 1;
    if (this.results.size >= this.limit) this.results.clear();
    this.results.set(key, ok);
    return ok;
  }
}

/**
 * Largest canonical genome, in bytes. A verified genome is published in a ConfigMap, whose
 * data may not exceed 1 MiB, and stored in etcd, whose default request limit is 1.5 MiB;
 * see docs/limits.md.
 */
export const MAX_GENOME_BYTES = 1_000_000;

/** Largest genome file a tool reads: the canonical limit with room for indentation. */
export const MAX_GENOME_FILE_BYTES = 4 * MAX_GENOME_BYTES;

/** The default policy. */
export const DEFAULT_POLICY: VerifyPolicy = { maxBytes: MAX_GENOME_BYTES };

/** A positive verdict: the genome id, the trusted signers that verified, and warnings. */
export interface Verified {
  ok: true;
  genome: Genome;
  genomeId: string;
  signers: string[];
  warnings: string[];
}

/** A negative verdict: a stable code, a message, the field concerned, and the id when known. */
export interface Refused extends Refusal {
  ok: false;
  genomeId?: string;
}

/** The answer to "is this genome verified against the keys we trust?". */
export type Verdict = Verified | Refused;

/** Everything the checks share, computed once. */
interface Subject {
  genome: Genome;
  bytes: Uint8Array;
  genomeId: string;
  signatures: GenomeSignature[];
  trusted: ReadonlyMap<string, TrustedKey>;
  policy: Pick<VerifyPolicy, 'maxBytes' | 'signatures'>;
}

/** One named check: undefined when it passes, a refusal when it does not. */
type Check = (subject: Subject) => Refusal | undefined;

/**
 * Decides whether a genome verifies against the trusted keys under the policy. Takes any
 * value (a parsed genome or hostile input) and never throws: every failure is a Refused
 * verdict with a stable code. The checks run in order and the first refusal wins.
 */
export function verify(
  document: unknown,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy = DEFAULT_POLICY,
): Verdict {
  try {
    return decide(document, trustedKeys, policy);
  } catch (err) {
    // Defence in depth: a check that throws is a bug, and a bug must refuse, not admit.
    return { ok: false, ...refuse('GENOME_VERIFY_ERROR', `verification failed: ${String(err)}`) };
  }
}

/**
 * verify() for a caller that has already run validateGenome on the document (and not changed
 * it since): the same verdict, without walking the document a second time. The webhook
 * validates a changed genome on UPDATE before comparing it with the stored one.
 */
export function verifyValidated(
  valid: GenomeResult,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy = DEFAULT_POLICY,
): Verdict {
  try {
    return decideValidated(valid, trustedKeys, policy);
  } catch (err) {
    return { ok: false, ...refuse('GENOME_VERIFY_ERROR', `verification failed: ${String(err)}`) };
  }
}

function decide(
  document: unknown,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy,
): Verdict {
  return decideValidated(validateGenome(document), trustedKeys, policy);
}

function decideValidated(
  valid: GenomeResult,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy,
): Verdict {
  if (!valid.ok) return { ok: false, ...valid.refusal };
  const subject = subjectOf(valid.genome, valid.nestedKeysSorted, trustedKeys, policy);
  for (const check of CHECKS) {
    const refusal = check(subject);
    if (refusal !== undefined) return { ok: false, ...refusal, genomeId: subject.genomeId };
  }
  const facts = factsOf(subject);
  const judged = judgeFlat(facts, trustedKeys, policy);
  if (!judged.ok) return { ok: false, ...judged.refusal, genomeId: subject.genomeId };
  return {
    ok: true,
    genome: subject.genome,
    genomeId: subject.genomeId,
    signers: judged.signers,
    warnings: warningsFor(subject, judged.signers),
  };
}

/** A genome whose own checks passed: the genome, its id, and what trust is judged from. */
export interface Examined {
  ok: true;
  genome: Genome;
  genomeId: string;
  facts: GenomeFacts;
}

/**
 * The genome's own checks, with no trusted key involved: size, signed, every signer declared,
 * every declared key usable, every signature verified against the key its signer declares.
 * What passes is judged by core/trust-policy.ts `judge` under any policies and keys, with no
 * further verification. Never throws.
 */
export function examineGenome(
  valid: GenomeResult,
  options: Pick<VerifyPolicy, 'maxBytes' | 'signatures'> = DEFAULT_POLICY,
): Examined | Refused {
  try {
    if (!valid.ok) return { ok: false, ...valid.refusal };
    const subject = subjectOf(valid.genome, valid.nestedKeysSorted, [], options);
    for (const check of OWN_CHECKS) {
      const refusal = check(subject);
      if (refusal !== undefined) return { ok: false, ...refusal, genomeId: subject.genomeId };
    }
    return {
      ok: true,
      genome: subject.genome,
      genomeId: subject.genomeId,
      facts: factsOf(subject),
    };
  } catch (err) {
    return { ok: false, ...refuse('GENOME_VERIFY_ERROR', `verification failed: ${String(err)}`) };
  }
}

function subjectOf(
  genome: Genome,
  nestedKeysSorted: boolean,
  trustedKeys: readonly TrustedKey[],
  policy: VerifyPolicy,
): Subject {
  const bytes = canonicalBytes(genome, nestedKeysSorted);
  const signatures = signaturesOf(genome);
  const trusted = new Map(trustedKeys.map((k) => [k.keyId, k]));
  return { genome, bytes, genomeId: sha256Hex(bytes), signatures, trusted, policy };
}

function factsOf(subject: Subject): GenomeFacts {
  const { genome } = subject;
  return {
    genomeId: subject.genomeId,
    name: genome.name,
    createdAt: genome.created_at,
    threshold: genome.authority.threshold,
    declared: genome.authority.signers.map((s) => ({ keyId: s.key_id, publicKey: s.public_key })),
    signed: [...new Set(subject.signatures.map((s) => s.signer_key_id))],
  };
}

const withinSizeLimit: Check = ({ bytes, policy }) =>
  bytes.length > policy.maxBytes
    ? refuse(
        'GENOME_TOO_LARGE',
        `the canonical genome is ${bytes.length} bytes, over the limit of ${policy.maxBytes}`,
      )
    : undefined;

const hasTrustedKeys: Check = ({ trusted }) =>
  trusted.size === 0 ? refuse('TRUST_KEYS_MISSING', 'no trusted keys are configured') : undefined;

/** Like upstream's loader, `signature` and `signatures` together: at least one entry. */
const isSigned: Check = ({ signatures }) =>
  signatures.length > 0
    ? undefined
    : refuse(
        'GENOME_UNSIGNED',
        'the genome is not signed: it has neither `signature` nor an entry in `signatures`',
        'signature',
      );

const signersAreDeclared: Check = ({ genome, signatures }) => {
  const declared = new Set(genome.authority.signers.map((s) => s.key_id));
  const index = signatures.findIndex((s) => !declared.has(s.signer_key_id));
  if (index === -1) return undefined;
  return refuse(
    'GENOME_INVALID_SIGNATURE',
    `signature by ${signatures[index]?.signer_key_id}, which authority.signers does not declare`,
    signatureField(subjectIndex(genome, index)),
  );
};

/** A trusted key id paired with other key bytes is an impersonation attempt, not a match. */
const noImpersonation: Check = ({ genome, trusted }) =>
  impersonated(
    genome.authority.signers.map((s) => ({ keyId: s.key_id, publicKey: s.public_key })),
    [...trusted.values()],
  );

/**
 * Every declared key must be usable, signer or not ("wherever it appears"): Mathison reads
 * them all, and a key of small order must never stand in a signed governance root.
 */
const declaredKeysUsable: Check = ({ genome }) => {
  for (const [i, signer] of genome.authority.signers.entries()) {
    const decoded = declaredKey(signer.public_key);
    if (typeof decoded === 'string') {
      return refuse(
        'GENOME_INVALID_SCHEMA',
        `unusable public key: ${decoded}`,
        `authority.signers[${i}].public_key`,
      );
    }
  }
  return undefined;
};

const signaturesVerify: Check = (subject) => {
  for (const [i, signature] of subject.signatures.entries()) {
    const refusal = checkSignature(subject, signature, i);
    if (refusal !== undefined) return refusal;
  }
  return undefined;
};

/** The checks before trust is judged, in order. Each answers one question. */
const CHECKS: readonly Check[] = [
  withinSizeLimit,
  hasTrustedKeys,
  isSigned,
  signersAreDeclared,
  noImpersonation,
  declaredKeysUsable,
  signaturesVerify,
];

/** The genome's own checks (examineGenome): no trusted key involved. */
const OWN_CHECKS: readonly Check[] = [
  withinSizeLimit,
  isSigned,
  signersAreDeclared,
  declaredKeysUsable,
  signaturesVerify,
];

function checkSignature(
  subject: Subject,
  signature: GenomeSignature,
  index: number,
): Refusal | undefined {
  // The schema admits only canonical base64 of 64 bytes here (SIGNATURE_PATTERN); checked
  // again as defence in depth.
  const bytes = decodeBase64Strict(signature.sig_base64);
  if (bytes?.length !== 64) {
    const message = 'sig_base64 is not base64 of 64 bytes';
    return refuse('GENOME_INVALID_SIGNATURE', message, `${fieldOf(subject, index)}.sig_base64`);
  }
  const verified = signatureVerifies(subject, signature, bytes);
  if (typeof verified === 'string') {
    const message = `the key of ${signature.signer_key_id} is unusable: ${verified}`;
    return refuse('GENOME_INVALID_SIGNATURE', message, fieldOf(subject, index));
  }
  if (verified) return undefined;
  const key = declaredKey(
    declaredKeyOf(subject.genome, signature.signer_key_id),
  ) as Ed25519PublicKey;
  const legacy = verifyEd25519(key, legacyCanonicalBytes(subject.genome), bytes)
    ? ' It verifies only over the legacy form of an early upstream tool, which did not cover nested content: re-sign with genome-sign.'
    : '';
  return refuse(
    'GENOME_INVALID_SIGNATURE',
    `the signature by ${signature.signer_key_id} does not match the genome's canonical bytes.${legacy}`,
    fieldOf(subject, index),
  );
}

/** The public key the signer of `keyId` declares ('' when none). */
function declaredKeyOf(genome: Genome, keyId: string): string {
  return genome.authority.signers.find((s) => s.key_id === keyId)?.public_key ?? '';
}

/**
 * Whether the signature verifies against the key its signer declares (from the cache when
 * given one), or why that key is unusable.
 */
function signatureVerifies(
  subject: Subject,
  signature: GenomeSignature,
  bytes: Uint8Array,
): boolean | string {
  const declared = declaredKeyOf(subject.genome, signature.signer_key_id);
  const key = declaredKey(declared);
  if (typeof key === 'string') return key;
  const verifies = () => verifyEd25519(key, subject.bytes, bytes);
  const cache = subject.policy.signatures;
  if (cache === undefined) return verifies();
  const cacheKey = `${subject.genomeId} ${signature.signer_key_id} ${declared} ${signature.sig_base64}`;
  return cache.result(cacheKey, verifies);
}

/** The field path of the index-th signature; built only for a refusal. */
function fieldOf(subject: Subject, index: number): string {
  return signatureField(subjectIndex(subject.genome, index));
}

// Bounded: the schema admits only 60-character keys, so 1024 entries are ~100 KB at most.
const declaredKeyCache = new Map<string, Ed25519PublicKey | string>();
const DECLARED_KEY_CACHE_LIMIT = 1024;

/** Decodes a key a genome declares; cached, since validation includes a scalar multiplication. */
function declaredKey(text: string): Ed25519PublicKey | string {
  let key = declaredKeyCache.get(text);
  if (key === undefined) {
    const decoded = decodePublicKey(text);
    key = 'reason' in decoded ? decoded.reason : decoded;
    if (declaredKeyCache.size >= DECLARED_KEY_CACHE_LIMIT) declaredKeyCache.clear();
    declaredKeyCache.set(text, key);
  }
  return key;
}

function warningsFor(subject: Subject, signers: readonly string[]): string[] {
  const warnings: string[] = [];
  for (const keyId of signers) {
    if (subject.trusted.get(keyId)?.test) {
      warnings.push(`signed by ${keyId}, a key marked as a TEST key: replace it before production`);
    }
  }
  const untrusted = subject.signatures.filter((s) => !subject.trusted.has(s.signer_key_id));
  for (const s of untrusted) {
    warnings.push(
      `the signature by ${s.signer_key_id} verified, but that key is not trusted and does not count`,
    );
  }
  return warnings;
}

/** Index into the combined list → the field path of that signature. */
function subjectIndex(genome: Genome, index: number): number | 'signature' {
  if (genome.signature === undefined) return index;
  return index === 0 ? 'signature' : index - 1;
}

function signatureField(index: number | 'signature'): string {
  return index === 'signature' ? 'signature' : `signatures[${index}]`;
}

/**
 * The form an early upstream signing tool signed: JSON.stringify with the sorted top-level
 * keys as a replacer list and an indent of 2, which serialized every nested object as {}.
 * Used only to explain a refusal; never to accept.
 */
function legacyCanonicalBytes(genome: Genome): Uint8Array {
  const { signature: _signature, ...rest } = genome;
  return new TextEncoder().encode(JSON.stringify(rest, Object.keys(rest).sort(), 2));
}

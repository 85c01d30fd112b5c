import { decodeBase64Strict } from './base64.ts';
import { canonicalBytes, sha256Hex } from './canonical.ts';
import { refuse, type Refusal, type RefusalCode } from './codes.ts';
import { verifyEd25519, type Ed25519PublicKey } from './ed25519.ts';
import {
  signaturesOf,
  validateGenome,
  type Genome,
  type GenomeResult,
  type GenomeSignature,
} from './genome.ts';
import { keyFingerprint } from './key-material.ts';
import { decodePublicKey, type TrustedKey } from './trust.ts';

/** What the caller requires beyond the genome's own rules. */
export interface VerifyPolicy {
  /** Largest canonical size accepted, in bytes. */
  maxBytes: number;
  /** At least this many distinct trusted signers, whatever the genome's own threshold says. */
  minSigners?: number;
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
  /** Distinct key ids that signed and whose declared key matches a trusted key. */
  counted: string[];
  policy: VerifyPolicy;
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
  const genome = valid.genome;
  const bytes = canonicalBytes(genome, valid.nestedKeysSorted);
  const signatures = signaturesOf(genome);
  const trusted = new Map(trustedKeys.map((k) => [k.keyId, k]));
  const subject: Subject = {
    genome,
    bytes,
    genomeId: sha256Hex(bytes),
    signatures,
    trusted,
    counted: countedSigners(genome, signatures, trusted),
    policy,
  };
  for (const check of CHECKS) {
    const refusal = check(subject);
    if (refusal !== undefined) return { ok: false, ...refusal, genomeId: subject.genomeId };
  }
  return {
    ok: true,
    genome,
    genomeId: subject.genomeId,
    signers: subject.counted,
    warnings: warningsFor(subject),
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
const noImpersonation: Check = ({ genome, trusted }) => {
  for (const [i, signer] of genome.authority.signers.entries()) {
    const key = trusted.get(signer.key_id);
    if (key !== undefined && !sameKey(key, signer.public_key)) {
      return refuse(
        'GENOME_UNTRUSTED_SIGNER',
        `authority.signers[${i}] names trusted key id ${signer.key_id} with a different public key (${keyFingerprint(signer.public_key)}); the trusted key is ${keyFingerprint(key.key.spkiBase64)}`,
        `authority.signers[${i}].public_key`,
      );
    }
  }
  return undefined;
};

/**
 * Every declared key must be usable, signer or not ("wherever it appears"): Mathison reads
 * them all, and a key of small order must never stand in a signed governance root.
 */
const declaredKeysUsable: Check = ({ genome, trusted }) => {
  for (const [i, signer] of genome.authority.signers.entries()) {
    const key = trusted.get(signer.key_id);
    if (key !== undefined && sameKey(key, signer.public_key)) continue; // vetted when trusted
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

const thresholdMet: Check = (subject) => {
  const counted = subject.counted;
  const required = Math.max(subject.genome.authority.threshold, subject.policy.minSigners ?? 1);
  if (counted.length >= required) return undefined;
  const code: RefusalCode =
    counted.length === 0 ? 'GENOME_UNTRUSTED_SIGNER' : 'GENOME_THRESHOLD_NOT_MET';
  const signedBy = [...new Set(subject.signatures.map((s) => s.signer_key_id))].join(', ');
  const message =
    counted.length === 0
      ? `none of the signers (${signedBy}) is a trusted key`
      : `${counted.length} distinct trusted signer(s) (${counted.join(', ')}) signed; ${required} required`;
  return refuse(code, message, 'authority.threshold');
};

/** The checks, in order. Each answers one question. */
const CHECKS: readonly Check[] = [
  withinSizeLimit,
  hasTrustedKeys,
  isSigned,
  signersAreDeclared,
  noImpersonation,
  declaredKeysUsable,
  signaturesVerify,
  thresholdMet,
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
  const key = signerKey(subject, signature.signer_key_id);
  if (typeof key === 'string') {
    const message = `the key of ${signature.signer_key_id} is unusable: ${key}`;
    return refuse('GENOME_INVALID_SIGNATURE', message, fieldOf(subject, index));
  }
  if (verifyEd25519(key, subject.bytes, bytes)) return undefined;
  const legacy = verifyEd25519(key, legacyCanonicalBytes(subject.genome), bytes)
    ? ' It verifies only over the legacy form of an early upstream tool, which did not cover nested content: re-sign with genome-sign.'
    : '';
  return refuse(
    'GENOME_INVALID_SIGNATURE',
    `the signature by ${signature.signer_key_id} does not match the genome's canonical bytes.${legacy}`,
    fieldOf(subject, index),
  );
}

/** The field path of the index-th signature; built only for a refusal. */
function fieldOf(subject: Subject, index: number): string {
  return signatureField(subjectIndex(subject.genome, index));
}

/** The key to verify a signature with: the trusted key when the declared one matches it. */
function signerKey(subject: Subject, keyId: string): Ed25519PublicKey | string {
  const declared = subject.genome.authority.signers.find((s) => s.key_id === keyId);
  const trusted = subject.trusted.get(keyId);
  if (trusted !== undefined && declared !== undefined && sameKey(trusted, declared.public_key)) {
    return trusted.key;
  }
  return declaredKey(declared?.public_key ?? '');
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

function sameKey(trusted: TrustedKey, declaredPublicKey: string): boolean {
  return trusted.key.spkiBase64 === declaredPublicKey;
}

/**
 * Distinct key ids that signed and whose declared key matches a trusted key. They count only
 * once every signature has verified (signaturesVerify runs before thresholdMet).
 */
function countedSigners(
  genome: Genome,
  signatures: readonly GenomeSignature[],
  trusted: ReadonlyMap<string, TrustedKey>,
): string[] {
  const counted = new Set<string>();
  for (const signature of signatures) {
    const key = trusted.get(signature.signer_key_id);
    const declared = genome.authority.signers.find((s) => s.key_id === signature.signer_key_id);
    if (key !== undefined && declared !== undefined && sameKey(key, declared.public_key)) {
      counted.add(signature.signer_key_id);
    }
  }
  return [...counted];
}

function warningsFor(subject: Subject): string[] {
  const warnings: string[] = [];
  for (const keyId of subject.counted) {
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

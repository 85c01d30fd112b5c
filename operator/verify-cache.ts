import { sha256Hex } from '../core/canonical.ts';
import { refuse } from '../core/codes.ts';
import { parseGenome, validateGenome, type Genome, type GenomeResult } from '../core/genome.ts';
import { judge, type PolicyResult, type TrustContext } from '../core/trust-policy.ts';
import {
  examineGenome,
  SignatureCache,
  MAX_GENOME_BYTES,
  type Examined,
  type Refused,
  type Verdict,
} from '../core/verify.ts';

/** Which Genome revision is asked about: its uid and generation (spec changes bump it). */
export interface Revision {
  uid: string;
  generation: number;
}

/** What a genome is judged under: the keys, the policies, its namespace's labels, the time. */
export type TrustInputs = TrustContext;

/** A verdict, the results of the policies that matched, and when time alone may change it. */
export interface Judged {
  verdict: Verdict;
  policies: readonly PolicyResult[];
  /** Epoch ms at which to judge again (a key window, a maxAge), if any. */
  changesAt?: number;
}

const LIMIT = 10_000;

/** What examining a genome left: its facts (no genome text), or its refusal. */
type Examination = Omit<Examined, 'genome'> | Refused;

/**
 * Each genome examined once (its own checks, every signature verified: core/verify.ts
 * examineGenome), then judged under the policies and keys of the moment (core/trust-policy.ts
 * `judge`, arithmetic). A change of keys, policies, namespace labels or time re-judges from
 * the kept facts: no signature is verified again and no genome needs to be read.
 *
 * Examinations are cached by the digest of the whole signed document (signatures included),
 * not by genome id: the id leaves the signatures out, and two Genomes with the same content
 * but other signatures (another tenant's copy, a forged one) must never share a verdict. The
 * digest of a Genome revision is remembered too, so a cache hit costs no serialization.
 */
export class VerifyCache {
  private readonly digests = new Map<string, string | undefined>();
  private readonly examinations = new Map<string, Examination>();
  /** The genomes of published ConfigMaps (decide reads their name and threshold), by uid. */
  private readonly publishedGenomes = new Map<string, Genome | undefined>();
  private readonly signatures = new SignatureCache();
  /** The document digest of each genome text digest (GenomeStore's) seen. */
  private readonly byText = new Map<string, string>();
  /** How many genomes were examined (not served from the cache). */
  computed = 0;

  /** Signature verifications done (each signature of each document once). */
  get verifications(): number {
    return this.signatures.verifications;
  }

  /**
   * The judgement of a revision's genome under `inputs`; `fresh` when examined now.
   * `textDigest` (the genome store's digest of its text) files the examination under it too,
   * for cachedJudgement.
   */
  verdict(
    revision: Revision,
    genome: unknown,
    inputs: TrustInputs,
    textDigest?: string,
  ): { judged: Judged; fresh: boolean } {
    const digest = this.digestOf(revision, genome);
    const cached = digest === undefined ? undefined : this.examinations.get(digest);
    const examination = cached ?? this.examine(validateGenome(genome));
    if (cached === undefined && digest !== undefined)
      this.remember(this.examinations, digest, examination);
    if (digest !== undefined && textDigest !== undefined)
      this.remember(this.byText, textDigest, digest);
    return { judged: judged(examination, genome as Genome, inputs), fresh: cached === undefined };
  }

  /**
   * The judgement under `inputs` of the genome whose text has `textDigest`, from its kept
   * facts, when it was examined before: no genome text needed. A Verified judgement carries no
   * genome (undefined): only a refusal can be acted on without the text.
   */
  cachedJudgement(textDigest: string, inputs: TrustInputs): Judged | undefined {
    const digest = this.byText.get(textDigest);
    const examination = digest === undefined ? undefined : this.examinations.get(digest);
    return examination === undefined ? undefined : judged(examination, undefined, inputs);
  }

  /**
   * The judgement, under `inputs`, of the genome.json text of a published ConfigMap (by its
   * uid: its content is immutable): an older genome that pods still mount.
   */
  publishedVerdict(uid: string, text: string, inputs: TrustInputs): Judged {
    const parsed = parseGenome(text);
    const examination = this.examine(parsed);
    const genome = parsed.ok ? parsed.genome : undefined;
    this.remember(this.examinations, publishedKey(uid), examination);
    this.remember(this.publishedGenomes, uid, genome);
    return judged(examination, genome, inputs);
  }

  /** The judgement of the ConfigMap of `uid` under `inputs`, if it was examined before. */
  cachedPublishedVerdict(uid: string, inputs: TrustInputs): Judged | undefined {
    const examination = this.examinations.get(publishedKey(uid));
    if (examination === undefined || !this.publishedGenomes.has(uid)) return undefined;
    return judged(examination, this.publishedGenomes.get(uid), inputs);
  }

  /** Forgets a deleted Genome's revisions. */
  forget(uid: string): void {
    for (const key of this.digests.keys()) if (key.startsWith(`${uid}/`)) this.digests.delete(key);
  }

  private examine(valid: GenomeResult): Examination {
    this.computed++;
    const examined = examineGenome(valid, {
      maxBytes: MAX_GENOME_BYTES,
      signatures: this.signatures,
    });
    if (!examined.ok) return examined;
    const { genome: _genome, ...facts } = examined;
    return facts;
  }

  /** The digest of a revision's whole signed document; undefined (not cached) if invalid. */
  private digestOf(revision: Revision, genome: unknown): string | undefined {
    const key = `${revision.uid}/${revision.generation}`;
    if (this.digests.has(key)) return this.digests.get(key);
    const digest = validateGenome(genome).ok ? signedDocumentDigest(genome) : undefined;
    this.remember(this.digests, key, digest);
    return digest;
  }

  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    if (map.size >= LIMIT) map.clear();
    map.set(key, value);
  }
}

/**
 * The judgement of an examination. No trusted key at all is TRUST_KEYS_MISSING, after the
 * checks that come before it in core/verify.ts (schema, size), as `verify` orders them.
 */
function judged(examination: Examination, genome: Genome | undefined, inputs: TrustInputs): Judged {
  const early = !examination.ok && examination.code === 'GENOME_TOO_LARGE';
  if (!early && inputs.keys.length === 0 && examination.genomeId !== undefined) {
    const refusal = refuse('TRUST_KEYS_MISSING', 'no trusted keys are configured');
    return { verdict: { ok: false, ...refusal, genomeId: examination.genomeId }, policies: [] };
  }
  if (!examination.ok) return { verdict: examination, policies: [] };
  const { facts, genomeId } = examination;
  const judgement = judge(facts, inputs);
  const { policies, changesAt } = judgement;
  const verdict: Verdict = judgement.ok
    ? {
        ok: true,
        // The caller's genome, of this revision (not kept here: see the class comment).
        genome: genome as Genome,
        genomeId,
        signers: judgement.signers,
        warnings: judgement.warnings,
      }
    : {
        ok: false,
        code: judgement.code,
        message: judgement.message,
        ...(judgement.field !== undefined && { field: judgement.field }),
        genomeId,
      };
  return { verdict, policies, ...(changesAt !== undefined && { changesAt }) };
}

/**
 * The SHA-256 of a genome document as JSON, signatures and all. A valid genome is shallow
 * (validateGenome), so this serialization cannot overflow the stack.
 */
function signedDocumentDigest(genome: unknown): string {
  return sha256Hex(Buffer.from(JSON.stringify(genome)));
}

/** Where the examination of a published ConfigMap's genome (by ConfigMap uid) is cached. */
function publishedKey(uid: string): string {
  return `configmap:${uid}`;
}

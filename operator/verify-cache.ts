import { sha256Hex } from '../core/canonical.ts';
import { parseGenome, validateGenome, type Genome } from '../core/genome.ts';
import type { TrustedKey } from '../core/trust.ts';
import { verify, verifyValidated, type Verdict } from '../core/verify.ts';

/** A version of a key set: equal for the same keys (ids, key bytes, test marks) in any order. */
export function keySetVersion(keys: readonly TrustedKey[]): string {
  const lines = keys.map((k) => `${k.keyId} ${k.key.spkiBase64} ${k.test ? 'test' : ''}`).sort();
  return sha256Hex(Buffer.from(lines.join('\n'))).slice(0, 16);
}

/** Which Genome revision is asked about: its uid and generation (spec changes bump it). */
export interface Revision {
  uid: string;
  generation: number;
}

const LIMIT = 10_000;

/**
 * Verdicts cached by the digest of the whole signed document (signatures included) and the
 * key-set version: a genome is verified again only when its document or the trusted keys
 * changed. Not by genome id: the id leaves the signatures out, and two Genomes with the same
 * content but other signatures (another tenant's copy, a forged one) must never share a
 * verdict, its signers or the keys it publishes. The digest of a Genome revision is remembered
 * too, so that a cache hit costs no serialization.
 */
export class VerifyCache {
  private readonly digests = new Map<string, string | undefined>();
  private readonly verdicts = new Map<string, Verdict>();
  private version = '';
  /** How many verdicts were computed (not served from the cache). */
  computed = 0;

  /** The verdict for a revision's genome under the keys of `version`; `fresh` when computed now. */
  verdict(
    revision: Revision,
    genome: unknown,
    keys: readonly TrustedKey[],
    version: string,
  ): { verdict: Verdict; fresh: boolean } {
    this.useVersion(version);
    const digest = this.digestOf(revision, genome);
    const key = `${digest}|${version}`;
    const cached = digest === undefined ? undefined : this.verdicts.get(key);
    // A cached verdict holds no genome (it would keep an old copy of every Genome alive beside
    // the informer's current one): the caller's genome, of the same revision, is put back.
    if (cached !== undefined)
      return {
        verdict: cached.ok ? { ...cached, genome: genome as Genome } : cached,
        fresh: false,
      };
    const verdict = verify(genome, keys);
    this.computed++;
    if (digest !== undefined) this.remember(this.verdicts, key, withoutGenome(verdict));
    return { verdict, fresh: true };
  }

  /**
   * The verdict, under the keys of `version`, for the genome.json text of a published
   * ConfigMap (by its uid: its content is immutable): an older genome that pods still mount.
   */
  publishedVerdict(
    uid: string,
    text: string,
    keys: readonly TrustedKey[],
    version: string,
  ): Verdict {
    this.useVersion(version);
    const key = publishedKey(uid, version);
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;
    const verdict = verifyValidated(parseGenome(text), keys);
    this.computed++;
    this.remember(this.verdicts, key, verdict);
    return verdict;
  }

  /** The verdict publishedVerdict() reached for the ConfigMap of `uid` under `version`, if any. */
  cachedPublishedVerdict(uid: string, version: string): Verdict | undefined {
    this.useVersion(version);
    return this.verdicts.get(publishedKey(uid, version));
  }

  /** Verdicts under older keys are never asked for again (and would keep old genomes alive). */
  private useVersion(version: string): void {
    if (version !== this.version) this.verdicts.clear();
    this.version = version;
  }

  /** Forgets a deleted Genome's revisions. */
  forget(uid: string): void {
    for (const key of this.digests.keys()) if (key.startsWith(`${uid}/`)) this.digests.delete(key);
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
 * The SHA-256 of a genome document as JSON, signatures and all. A valid genome is shallow
 * (validateGenome), so this serialization cannot overflow the stack.
 */
function signedDocumentDigest(genome: unknown): string {
  return sha256Hex(Buffer.from(JSON.stringify(genome)));
}

/** Where the verdict of a published ConfigMap's genome (by ConfigMap uid) is cached. */
function publishedKey(uid: string, version: string): string {
  return `configmap:${uid}|${version}`;
}

/** The verdict as the cache keeps it: a Verified one without its genome (see verdict()). */
function withoutGenome(verdict: Verdict): Verdict {
  return verdict.ok ? { ...verdict, genome: undefined as unknown as Genome } : verdict;
}

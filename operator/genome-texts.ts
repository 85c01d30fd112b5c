import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { GenomeResource } from '../core/api.ts';
import { jsonText } from '../core/json-text.ts';
import { stripBookkeeping } from '../kube/strip.ts';

/**
 * A Genome as the operator caches it: `spec.genome` replaced by the digest of its JSON text,
 * `spec.genomeDigest`. The text itself is held apart (GenomeTexts) only while a reconcile of
 * the Genome may still need it.
 */
export interface CompactGenome extends Omit<GenomeResource, 'spec'> {
  spec: Omit<GenomeResource['spec'], 'genome'> & { genomeDigest?: string };
}

/** The digest of a genome's JSON text: what tells one genome from another in the cache. */
export function genomeTextDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

/** The key of a Genome in the cache and the work queue: `namespace/name`. */
const keyOf = (object: KubernetesObject) =>
  `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

/**
 * The genome texts of the operator's Genome cache, held only while a reconcile still needs
 * them. A 50 KB genome is a 50 KB string, and 1,000 of them were a quarter of the operator's
 * memory, yet a converged Genome is verified again only when the keys change or someone edits
 * what the operator wrote. So a text that arrives with a watch event is held until a
 * reconcile finds its Genome converged (nothing to write); after that the cache keeps only the
 * digest, and a reconcile that needs the genome again reads the Genome from the API server
 * (`ensure`), holding that text until the next convergence.
 *
 * JSON.parse(JSON.stringify(x)) gives back a value deep-equal to x for anything JSON.parse
 * made (an own `__proto__` key included), so the genome the operator verifies and publishes is
 * the one the API server sent. A genome too deep for JSON.stringify (a hostile one, stored
 * where the webhook did not run) is held clipped (core/json-text.ts): refused all the same.
 */
export class GenomeTexts {
  /** Texts a reconcile may still need, by Genome key. */
  private readonly held = new Map<string, { digest: string; text: string }>();
  /** The digest each Genome converged with: its text need not be held when it comes again. */
  private readonly settled = new Map<string, string>();
  /** False in a replica that does not lead: no reconcile would ever let a text go. */
  private holding: boolean;

  constructor({ holding = true }: { holding?: boolean } = {}) {
    this.holding = holding;
  }

  /**
   * Holds texts from now on, or stops and lets every held one go. A standby holds none (its
   * first reconciles as leader read them back); a replica that stops leading lets them go.
   */
  setHolding(holding: boolean): void {
    this.holding = holding;
    if (holding) return;
    this.held.clear();
    this.settled.clear();
  }

  /**
   * The informer transform: stripBookkeeping, and the genome replaced by its digest. Its text
   * is held unless this Genome converged with that very genome, or the object is the version
   * the cache has (a relist brings every object again, and no reconcile follows for those).
   */
  readonly compact = <T extends KubernetesObject>(object: T, previous?: T): T => {
    const stripped = stripBookkeeping(object) as unknown as GenomeResource;
    const { genome, ...spec } = stripped.spec ?? {};
    if (genome === undefined) return { ...stripped, spec } as unknown as T;
    const text = jsonText(genome);
    const digest = genomeTextDigest(text);
    const key = keyOf(object);
    const unchanged =
      previous !== undefined &&
      previous.metadata?.resourceVersion === object.metadata?.resourceVersion;
    if (this.holding && !unchanged && this.settled.get(key) !== digest)
      this.held.set(key, { digest, text });
    const compact: CompactGenome = { ...stripped, spec: { ...spec, genomeDigest: digest } };
    return compact as unknown as T;
  };

  /** The held text of the Genome `key` with the genome of `digest`, if held. */
  text(key: string, digest: string): string | undefined {
    const held = this.held.get(key);
    return held?.digest === digest ? held.text : undefined;
  }

  /**
   * The Genome of the cache with its genome parsed: from the held text, or else from `read`
   * (the Genome as the API server has it now), whose text is then held. Undefined when the
   * Genome is not cached; 'changed' when the API server's genome is not the cached one (a
   * watch event is on its way).
   */
  async ensure(
    compact: CompactGenome | undefined,
    read: () => Promise<GenomeResource | undefined>,
  ): Promise<GenomeResource | undefined | 'changed'> {
    if (compact === undefined) return undefined;
    // An object cached by its identity alone (kube/informer.ts) has no spec: refused as empty.
    const { genomeDigest, ...spec } = compact.spec ?? {};
    if (genomeDigest === undefined) return { ...compact, spec: { ...spec, genome: undefined } };
    const key = keyOf(compact as unknown as KubernetesObject);
    const text = this.text(key, genomeDigest) ?? (await this.readBack(key, compact, read));
    if (text === undefined) return 'changed';
    return { ...compact, spec: { ...spec, genome: JSON.parse(text) as unknown } };
  }

  /** The text of the cached genome as `read` gives it, held; undefined if it is not that one. */
  private async readBack(
    key: string,
    compact: CompactGenome,
    read: () => Promise<GenomeResource | undefined>,
  ): Promise<string | undefined> {
    const current = await read();
    if (current?.metadata.uid !== compact.metadata.uid || current?.spec?.genome === undefined)
      return undefined;
    const text = jsonText(current.spec.genome);
    const digest = compact.spec.genomeDigest;
    if (digest === undefined || genomeTextDigest(text) !== digest) return undefined;
    // A newer genome that came with a watch event meanwhile stays held.
    if (this.holding && this.held.get(key) === undefined) this.held.set(key, { digest, text });
    return text;
  }

  /** A reconcile found `key` converged with the genome of `digest`: its text is let go. */
  settle(key: string, digest: string | undefined): void {
    if (digest === undefined) return;
    this.settled.set(key, digest);
    if (this.held.get(key)?.digest === digest) this.held.delete(key);
  }

  /** The Genome `key` was deleted. */
  forget(key: string): void {
    this.held.delete(key);
    this.settled.delete(key);
  }

  /** How many texts are held now. */
  heldCount(): number {
    return this.held.size;
  }
}

import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { GenomeResource } from '../core/api.ts';
import { jsonText } from '../core/json-text.ts';
import { objectKey } from '../kube/informer.ts';
import { stripBookkeeping } from '../kube/strip.ts';
import type { CompactGenome } from './cached.ts';

export type { CompactGenome } from './cached.ts';

/** The digest of a genome's JSON text: what tells one genome from another in the cache. */
export function genomeTextDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

/**
 * The Genome `namespace/name` as the API server has it, at least as new as `resourceVersion`
 * (a GET with that resourceVersion: the API server's watch cache answers, waiting for it to
 * catch up if need be); undefined when there is no such Genome.
 */
export type ReadGenome = (
  namespace: string,
  name: string,
  resourceVersion: string | undefined,
) => Promise<GenomeResource | undefined>;

/** The part of the Genome informer (kube/informer.ts) the store reads. */
export interface GenomeCache {
  get(key: string): CompactGenome | undefined;
  onChange(handler: (event: { type: string; object: CompactGenome }) => void): unknown;
}

/** The store's metrics (operator/metrics.ts), kept current by the store. */
export interface GenomeStoreMetrics {
  textsHeld: { set(value: number): void };
  textBytesHeld: { set(value: number): void };
  textReads: { inc(): void };
}

/** What a GenomeStore is built on. */
export interface GenomeStoreOptions<C extends GenomeCache> {
  /** Starts the Genome cache with the store's transform (the informer of the Genomes). */
  start(transform: <T extends KubernetesObject>(object: T, previous?: T) => T): C;
  /** Reads a Genome back from the API server when its text is not held. */
  read: ReadGenome;
  /** The most genome text held at once, in characters (default 16 MiB). */
  budget?: number;
  /** A text not used for this long is let go (default 5 s). */
  idleMs?: number;
  /** False in a replica that may stand by: it holds no text (see setHolding). */
  holding?: boolean;
  metrics?: GenomeStoreMetrics;
  /** The clock, for tests (default Date.now). */
  now?: () => number;
}

/** The default budget: 16 MiB of text, ~330 genomes of 50 KB or ~4,000 of 4 KB. */
export const DEFAULT_TEXT_BUDGET = 16 * 1024 * 1024;
/**
 * The default idle period: longer than the reconciles one change brings take to come (its
 * watch event's, then the echo of the status written), shorter than the idle memory release's
 * 10 s (operator/runtime/memory.ts), which then finds the texts gone. See
 * docs/adr/0005-genome-text-store.md.
 */
export const DEFAULT_TEXT_IDLE_MS = 5_000;

interface Held {
  digest: string;
  text: string;
  /** When it arrived or was last used. */
  touched: number;
}

/**
 * The operator's Genomes, as plain objects: `cached(key)` without the genome (the informer's
 * compact copy), `get(key)` with it parsed. A 50 KB genome is a 50 KB string, and the first
 * list of 3,000 such Genomes is more than the operator's heap; yet a converged Genome needs its
 * genome again only when the keys change or someone edits what the operator wrote. So the
 * cache keeps a digest of each genome, and the texts are held apart, under a budget
 * (docs/adr/0005-genome-text-store.md):
 *
 * - a text that arrives with a watch event is held *pending*: its reconcile is on its way. It
 *   is not held when the budget is full of pending texts (the queue works the oldest first, so
 *   those are needed sooner);
 * - a text that `get` used is held *used*, least recently used first out when a pending text
 *   needs the room, and every text is let go after `idleMs` without use;
 * - `get` of a Genome whose text is not held reads it back (`read`), at least as new as the
 *   cache, and holds it if it is the cached genome.
 *
 * JSON.parse(JSON.stringify(x)) gives back a value deep-equal to x for anything JSON.parse
 * made (an own `__proto__` key included), so the genome the operator verifies and publishes is
 * the one the API server sent. A genome too deep for JSON.stringify (a hostile one, stored
 * where the webhook did not run) is held clipped (core/json-text.ts): refused all the same.
 */
export class GenomeStore<C extends GenomeCache = GenomeCache> {
  /** The Genome cache (the informer the store started), of compact Genomes. */
  readonly cache: C;
  private readonly read: ReadGenome;
  private readonly budget: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly metrics: GenomeStoreMetrics | undefined;
  /** Texts a reconcile is on its way for, oldest first. */
  private readonly pending = new Map<string, Held>();
  /** Texts a reconcile used, least recently used first. */
  private readonly used = new Map<string, Held>();
  private bytes = 0;
  private reads = 0;
  private holding: boolean;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: GenomeStoreOptions<C>) {
    this.read = options.read;
    this.budget = options.budget ?? DEFAULT_TEXT_BUDGET;
    this.idleMs = options.idleMs ?? DEFAULT_TEXT_IDLE_MS;
    this.holding = options.holding ?? true;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
    this.cache = options.start(this.compact);
    // Whether or not a controller runs: a deleted Genome's text is let go at once.
    this.cache.onChange((e) => e.type === 'delete' && this.forget(objectKey(e.object)));
    // A text goes at most a second after its idle period (a fifth of it, if shorter).
    const every = Math.max(Math.min(this.idleMs / 5, 1_000), 10);
    this.sweeper = setInterval(() => this.sweep(), every).unref();
  }

  /**
   * The informer transform: stripBookkeeping, and the genome replaced by its digest. Its text
   * is held pending unless the object is the version the cache has (a relist brings every
   * object again, and no reconcile follows for those). Never throws on a Genome's content.
   */
  readonly compact = <T extends KubernetesObject>(object: T, previous?: T): T => {
    const stripped = stripBookkeeping(object) as unknown as GenomeResource;
    const { genome, ...spec } = stripped.spec ?? {};
    if (genome === undefined) return { ...stripped, spec } as unknown as T;
    const text = jsonText(genome);
    const digest = genomeTextDigest(text);
    const unchanged =
      previous !== undefined &&
      previous.metadata?.resourceVersion === object.metadata?.resourceVersion;
    if (!unchanged) this.hold(objectKey(object), { digest, text, touched: this.now() }, 'pending');
    const compact: CompactGenome = { ...stripped, spec: { ...spec, genomeDigest: digest } };
    return compact as unknown as T;
  };

  /** The cached Genome `key` without its genome (only its digest), if cached. */
  cached(key: string): CompactGenome | undefined {
    return this.cache.get(key);
  }

  /**
   * The Genome `key` with its genome parsed, a plain object of the reconciler's own:
   *
   * - undefined when it is not cached;
   * - the cached Genome with the held text of its genome;
   * - else the Genome the API server has now, read at least as new as the cache. That is the
   *   cached one, or a newer one whose watch event is on its way (an edit, or another Genome
   *   of the same name after a delete): the newer truth, returned as it is (its event will
   *   enqueue the key again). Undefined when the API server has none: deleted, the delete event
   *   on its way. A failed read throws (the reconcile is retried).
   */
  async get(key: string): Promise<GenomeResource | undefined> {
    const compact = this.cache.get(key);
    if (compact === undefined) return undefined;
    // An object cached by its identity alone (kube/informer.ts) has no spec: refused as empty.
    const { genomeDigest, ...spec } = compact.spec ?? {};
    if (genomeDigest === undefined) return { ...compact, spec: { ...spec, genome: undefined } };
    const text = this.use(key, genomeDigest);
    if (text !== undefined) return { ...compact, spec: { ...spec, genome: JSON.parse(text) } };
    return this.readBack(key, compact);
  }

  /**
   * Holds texts from now on, or stops and lets every held one go. A standby holds none (its
   * first reconciles as leader read them back); a replica that stops leading lets them go.
   */
  setHolding(holding: boolean): void {
    this.holding = holding;
    if (!holding) this.letGo(() => true);
  }

  /** Lets go the text of the Genome `key` (deleted). */
  forget(key: string): void {
    this.drop(key);
    this.report();
  }

  /** Lets go every text not used for `idleMs` (the store does so on a timer). */
  sweep(): void {
    const before = this.now() - this.idleMs;
    this.letGo((_, held) => held.touched <= before);
  }

  /** Texts held now, their length in characters, and read-backs so far. */
  stats(): { texts: number; bytes: number; reads: number } {
    return { texts: this.pending.size + this.used.size, bytes: this.bytes, reads: this.reads };
  }

  /** Stops the idle timer. */
  stop(): void {
    clearInterval(this.sweeper);
  }

  /** The text of `key` if it is the genome of `digest`, now the most recently used. */
  private use(key: string, digest: string): string | undefined {
    const held = this.pending.get(key) ?? this.used.get(key);
    if (held?.digest !== digest) return undefined;
    this.pending.delete(key);
    this.used.delete(key);
    this.used.set(key, { ...held, touched: this.now() });
    return held.text;
  }

  /** The Genome from the API server, its text held if it is the cached genome. */
  private async readBack(key: string, compact: CompactGenome): Promise<GenomeResource | undefined> {
    const { namespace = '', name = '', resourceVersion } = compact.metadata ?? {};
    this.reads += 1;
    this.metrics?.textReads.inc();
    const current = await this.read(namespace, name, resourceVersion);
    if (current === undefined) return undefined;
    const fresh = stripBookkeeping(
      current as unknown as KubernetesObject,
    ) as unknown as GenomeResource;
    const { genome, ...spec } = fresh.spec ?? {};
    if (genome === undefined) return { ...fresh, spec: { ...spec, genome: undefined } };
    const text = jsonText(genome);
    this.holdRead(key, compact, current, text);
    return { ...fresh, spec: { ...spec, genome: JSON.parse(text) } };
  }

  /**
   * Holds `text`, read back from `current`, if it is the genome of `compact` and `compact` is
   * still what the cache has (a watch event that came meanwhile held its own text).
   */
  private holdRead(key: string, compact: CompactGenome, current: GenomeResource, text: string) {
    const digest = genomeTextDigest(text);
    const ours = current.metadata?.uid === compact.metadata?.uid;
    if (ours && digest === compact.spec.genomeDigest && this.cache.get(key) === compact)
      this.hold(key, { digest, text, touched: this.now() }, 'used');
  }

  /**
   * Holds `held` as the text of `key`, in place of any other, if the budget has room once the
   * least recently used texts are let go (pending ones are not let go for it).
   */
  private hold(key: string, held: Held, as: 'pending' | 'used'): void {
    this.drop(key);
    if (!this.holding) return this.report();
    const size = held.text.length;
    for (const [k, old] of this.used) {
      if (this.bytes + size <= this.budget) break;
      this.remove(this.used, k, old);
    }
    if (this.bytes + size > this.budget) return this.report();
    (as === 'pending' ? this.pending : this.used).set(key, held);
    this.bytes += size;
    this.report();
  }

  private letGo(which: (key: string, held: Held) => boolean): void {
    for (const map of [this.pending, this.used]) {
      for (const [key, held] of map) if (which(key, held)) this.remove(map, key, held);
    }
    this.report();
  }

  /** Lets go the text of `key`, if held. */
  private drop(key: string): void {
    for (const map of [this.pending, this.used]) {
      const held = map.get(key);
      if (held !== undefined) this.remove(map, key, held);
    }
  }

  private remove(map: Map<string, Held>, key: string, held: Held): void {
    map.delete(key);
    this.bytes -= held.text.length;
  }

  private report(): void {
    this.metrics?.textsHeld.set(this.pending.size + this.used.size);
    this.metrics?.textBytesHeld.set(this.bytes);
  }
}

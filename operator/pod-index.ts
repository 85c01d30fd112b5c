import { isDeepStrictEqual } from 'node:util';
import { GENOME_LABEL } from '../core/api.ts';
import { objectKey, type InformerEvent } from '../kube/informer.ts';
import type { CachedPod } from './cached.ts';

/** The pod cache, as far as the index follows it (kube/informer.ts). */
export interface PodCache<P extends CachedPod> {
  list(): P[];
  onChange(handler: (change: InformerEvent<P>) => void): () => void;
}

/** The `namespace/name` key of the Genome a pod names, or undefined. */
export function genomeKeyOf(pod: CachedPod): string | undefined {
  const name = pod.metadata?.labels?.[GENOME_LABEL];
  return name === undefined || name === '' ? undefined : `${pod.metadata?.namespace ?? ''}/${name}`;
}

/**
 * The labelled pods by the Genome they name, kept from the pod cache's changes, so a
 * reconcile reads its Genome's pods without walking every pod in the cluster. A pod's label
 * may change: both the Genome it named and the one it names now are affected.
 */
export class PodIndex<P extends CachedPod = CachedPod> {
  private readonly byGenome = new Map<string, Map<string, P>>();
  private readonly genomeOfPod = new Map<string, string>();
  private readonly handlers = new Set<(genomeKey: string) => void>();

  /**
   * Indexes what the cache holds and follows its changes; after each, tells the handlers the
   * keys of the Genomes whose pods changed. Returns a function that stops following.
   */
  follow(cache: PodCache<P>): () => void {
    for (const object of cache.list()) this.observe({ type: 'add', object });
    return cache.onChange((change) => {
      for (const key of this.observe(change)) for (const handler of this.handlers) handler(key);
    });
  }

  /** Calls `handler` with the key of each Genome whose pods changed; returns an unsubscriber. */
  onChange(handler: (genomeKey: string) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /**
   * Takes one change; returns the keys of the Genomes whose pods changed. A change of the
   * pod's conditions alone (the gate controller's own writes, the kubelet's probes) changes
   * nothing the Genome-keyed controllers read: it is kept, and reported for no Genome.
   */
  observe(change: Pick<InformerEvent<P>, 'type' | 'object'>): string[] {
    const pod = objectKey(change.object);
    const before = this.genomeOfPod.get(pod);
    const after = change.type === 'delete' ? undefined : genomeKeyOf(change.object);
    if (after === before && this.tookConditions(before, pod, change.object)) return [];
    if (before !== undefined && before !== after) this.forget(before, pod);
    if (after !== undefined) {
      const pods = this.byGenome.get(after) ?? new Map<string, P>();
      pods.set(pod, change.object);
      this.byGenome.set(after, pods);
      this.genomeOfPod.set(pod, after);
    }
    return [...new Set([before, after])].filter((k) => k !== undefined);
  }

  private forget(genomeKey: string, pod: string): void {
    const pods = this.byGenome.get(genomeKey);
    pods?.delete(pod);
    if (pods?.size === 0) this.byGenome.delete(genomeKey);
    this.genomeOfPod.delete(pod);
  }

  /** Takes a pod of `genomeKey` whose conditions alone changed; false for any other change. */
  private tookConditions(genomeKey: string | undefined, pod: string, object: P): boolean {
    const pods = genomeKey === undefined ? undefined : this.byGenome.get(genomeKey);
    const kept = pods?.get(pod);
    if (pods === undefined || kept === undefined || !sameButConditions(kept, object)) return false;
    pods.set(pod, object);
    return true;
  }

  /** The pods that name the Genome `namespace/name`. */
  podsOf(genomeKey: string): P[] {
    return [...(this.byGenome.get(genomeKey)?.values() ?? [])];
  }
}

/** Whether two versions of a pod differ in nothing but their conditions and resourceVersion. */
function sameButConditions(a: CachedPod, b: CachedPod): boolean {
  const rest = ({ metadata, status, ...pod }: CachedPod) => ({
    ...pod,
    metadata: { ...metadata, resourceVersion: undefined },
    status: { ...status, conditions: undefined },
  });
  return isDeepStrictEqual(rest(a), rest(b));
}

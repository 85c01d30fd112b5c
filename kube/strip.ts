import type { KubernetesObject } from '@kubernetes/client-node';
import type { GenomeResource } from '../core/api.ts';
import { configMapDataDigest } from '../core/render.ts';

/** The annotation kubectl's client-side apply keeps: a full copy of the applied object. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * An informer transform that drops what no controller of this project reads and what can be
 * as large as the object itself: `metadata.managedFields` (for a Genome, one entry per field of
 * its genome) and kubectl's last-applied copy. Like client-go's TransformStripManagedFields.
 */
export function stripBookkeeping<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (metadata === undefined) return object;
  const { managedFields: _managed, annotations, ...rest } = metadata;
  const kept =
    annotations === undefined || !(LAST_APPLIED_ANNOTATION in annotations)
      ? annotations
      : Object.fromEntries(
          Object.entries(annotations).filter(([k]) => k !== LAST_APPLIED_ANNOTATION),
        );
  return { ...object, metadata: { ...rest, ...(kept !== undefined && { annotations: kept }) } };
}

/**
 * An informer transform for caches that read only a Genome's metadata and status (the pod
 * webhook): the genome itself, which can be a megabyte, is not kept.
 */
export function genomeWithoutSpec<T extends KubernetesObject>(object: T): T {
  const { spec: _spec, ...rest } = stripBookkeeping(object) as T & { spec?: unknown };
  return rest as T;
}

/**
 * A Genome as the operator caches it: `spec.genome` held as its JSON text in `spec.genomeText`.
 * A 50 KB genome parsed is ~150 KB of small objects and strings on the V8 heap; its text is one
 * 50 KB string. The operator parses it back (genomeExpander) when it reconciles. (Deflating the
 * text was tried: zlib's native buffers fragmented malloc and the process grew; docs/benchmarks.md.)
 */
export interface CompactGenome extends Omit<GenomeResource, 'spec'> {
  spec: Omit<GenomeResource['spec'], 'genome'> & { genomeText?: string };
}

/**
 * The informer transform for the operator's Genome cache: stripBookkeeping, and the genome as
 * text (the very string of `previous`, the cached version, when the text is the same: a status
 * update brings the same genome again, and its new copy then dies young instead of leaving
 * 50 KB in the old generation). JSON.parse(JSON.stringify(x)) gives back a value deep-equal to
 * x for anything JSON.parse made (an own `__proto__` key included), so the genome the operator
 * verifies and publishes is the one the API server sent.
 */
export function compactGenome<T extends KubernetesObject>(object: T, previous?: T): T {
  const stripped = stripBookkeeping(object) as unknown as GenomeResource;
  const { genome, ...spec } = stripped.spec ?? {};
  if (genome === undefined) return { ...stripped, spec } as unknown as T;
  const text = JSON.stringify(genome);
  const kept = (previous as CompactGenome | undefined)?.spec?.genomeText;
  const compact: CompactGenome = {
    ...stripped,
    spec: { ...spec, genomeText: text === kept ? kept : text },
  };
  return compact as unknown as T;
}

/**
 * A cached Genome with its genome parsed again. The last few are kept (a reconcile and the
 * rollouts after it ask for the same one), by object, so a changed Genome is parsed afresh.
 */
export function genomeExpander(
  keep = 32,
): (g: CompactGenome | undefined) => GenomeResource | undefined {
  const recent = new Map<CompactGenome, GenomeResource>();
  return (compact) => {
    if (compact === undefined) return undefined;
    const hit = recent.get(compact);
    if (hit !== undefined) return hit;
    const { genomeText, ...spec } = compact.spec;
    const genome: unknown = genomeText === undefined ? undefined : JSON.parse(genomeText);
    const expanded: GenomeResource = { ...compact, spec: { ...spec, genome } };
    if (recent.size >= keep) recent.delete(recent.keys().next().value!);
    recent.set(compact, expanded);
    return expanded;
  };
}

/**
 * The informer transform for the operator's ConfigMap cache: stripBookkeeping, and `data`
 * replaced by its digest (`dataDigest`, core/render.ts). A published ConfigMap holds its
 * genome pretty-printed (a 50 KB genome is ~70 KB there); the operator only compares it with
 * what it would publish, and reads an older one from the API server when it must verify it.
 */
export function digestConfigMap<T extends KubernetesObject>(object: T): T {
  const { data, ...rest } = stripBookkeeping(object) as T & { data?: Record<string, string> };
  return { ...rest, ...(data !== undefined && { dataDigest: configMapDataDigest(data) }) } as T;
}

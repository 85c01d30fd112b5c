import type { KubernetesObject } from '@kubernetes/client-node';
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
 * The informer transform for the operator's ConfigMap cache: stripBookkeeping, and `data`
 * replaced by its digest (`dataDigest`, core/render.ts). A published ConfigMap holds its
 * genome pretty-printed (a 50 KB genome is ~70 KB there); the operator only compares it with
 * what it would publish, and reads an older one from the API server when it must verify it.
 */
export function digestConfigMap<T extends KubernetesObject>(object: T): T {
  const { data, ...rest } = stripBookkeeping(object) as T & { data?: Record<string, string> };
  return { ...rest, ...(data !== undefined && { dataDigest: configMapDataDigest(data) }) } as T;
}

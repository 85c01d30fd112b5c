/**
 * What the operator's pod and workload caches may keep of an object a tenant wrote: every value
 * kept is a string of bounded length, every map a bounded number of entries, whatever the
 * object carries (a pod template may hold 256 KiB of annotations, a pod as much). The
 * transforms that use these (operator/cached-pod.ts, operator/rollout.ts) never throw.
 */
import { GENOME_LABEL } from '../core/api.ts';

/**
 * The label selector of the operator's pod and workload watches: the genome label is set and
 * not empty. A pod labelled `genome.mathison.io/genome: ""` skips the pod webhook, so it has
 * nothing the operator keeps; the API server does not even send it.
 */
export const NAMES_A_GENOME = `${GENOME_LABEL},${GENOME_LABEL}!=`;

/** Longest name, uid, resourceVersion or timestamp kept (names are at most 253). */
export const MAX_IDENTITY_CHARS = 256;
/** Longest genome id annotation kept (an id is 64 hex digits; longer is never a match). */
export const MAX_ID_CHARS = 128;

/** Longest label value the API server allows (a Genome's name in the genome label). */
const MAX_LABEL_VALUE = 63;
/** Longest label key (253 for the prefix, a slash, 63 for the name) and value together. */
const MAX_LABEL_CHARS = 253 + 1 + 63 + MAX_LABEL_VALUE;

/**
 * `value` when it is a string of at most `max` characters; a longer one becomes a short
 * marker (never a slice: a slice of a long string keeps the whole of it alive in V8), anything
 * else undefined.
 */
export function keptString(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length <= max ? value : `(dropped: ${value.length} characters)`;
}

/** The one entry `key` of a string map, bounded, as a map of its own (undefined if absent). */
export function keptEntry(
  map: unknown,
  key: string,
  max: number,
): Record<string, string> | undefined {
  if (typeof map !== 'object' || map === null || !Object.hasOwn(map, key)) return undefined;
  const value = keptString((map as Record<string, unknown>)[key], max);
  return value === undefined ? undefined : { [key]: value };
}

/** Most labels a cached pod keeps in full (its workload's selector is matched against them). */
export const MAX_POD_LABELS = 64;
/** Most characters of keys and values together a cached pod's labels may have. */
export const MAX_POD_LABEL_CHARS = 4096;

/**
 * A pod's labels, when there are at most MAX_POD_LABELS of at most MAX_POD_LABEL_CHARS in all;
 * otherwise only its genome label (no workload's selector then matches it: see docs/operator.md).
 */
export function keptLabels(labels: unknown): Record<string, string> | undefined {
  if (typeof labels !== 'object' || labels === null) return undefined;
  const entries = Object.entries(labels as Record<string, unknown>);
  let chars = 0;
  for (const [key, value] of entries) {
    if (typeof value !== 'string' || key.length + value.length > MAX_LABEL_CHARS) {
      chars = Infinity;
      break;
    }
    chars += key.length + value.length;
  }
  if (entries.length <= MAX_POD_LABELS && chars <= MAX_POD_LABEL_CHARS) {
    return Object.fromEntries(entries) as Record<string, string>;
  }
  const genome = genomeLabel(labels);
  return genome === undefined ? undefined : { [GENOME_LABEL]: genome };
}

/** The genome label of `labels` when it names a Genome (a non-empty, valid label value). */
export function genomeLabel(labels: unknown): string | undefined {
  if (typeof labels !== 'object' || labels === null || !Object.hasOwn(labels, GENOME_LABEL))
    return undefined;
  const name = (labels as Record<string, unknown>)[GENOME_LABEL];
  return typeof name === 'string' && name !== '' && name.length <= MAX_LABEL_VALUE
    ? name
    : undefined;
}

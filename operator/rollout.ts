/**
 * Automatic rollouts, the pure part: which Deployments and StatefulSets of a Genome get the
 * Genome's newly verified id stamped on their pod template (which starts their rolling update),
 * and what to say about it. The rollout controller (operator/controllers/rollout.ts) gathers the
 * caches and makes the writes.
 */
import {
  GENOME_ID_ANNOTATION,
  GENOME_LABEL,
  ROLLOUT_MANUAL,
  shortGenomeId,
  type GenomeResource,
} from '../core/api.ts';
import { displayText } from '../core/display.ts';
import type { CachedPod, CachedWorkload, LabelSelector } from './cached.ts';
import { verifiedPublication } from '../core/plan-injection.ts';
import {
  genomeLabel,
  keptEntry,
  keptString,
  MAX_ID_CHARS,
  MAX_IDENTITY_CHARS,
} from './cache-bounds.ts';

type Labels = Record<string, string>;

/** The workload kinds that get rollouts, with the collection the operator watches. */
export const WORKLOAD_KINDS = [
  { kind: 'Deployment', apiVersion: 'apps/v1', path: '/apis/apps/v1/deployments' },
  { kind: 'StatefulSet', apiVersion: 'apps/v1', path: '/apis/apps/v1/statefulsets' },
] as const;

/** Most matchLabels entries plus matchExpressions a kept selector may have. */
const MAX_SELECTOR_TERMS = 32;
/** Most values of all its matchExpressions together. */
const MAX_SELECTOR_VALUES = 64;
/** Most characters of all its keys, operators and values together. */
const MAX_SELECTOR_CHARS = 4096;

type Loose = Record<string, unknown>;
const record = (value: unknown): Loose =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : {};

/**
 * Returns the informer transform of one workload kind. An opted-in workload (its own genome
 * label names a Genome) keeps its identity, that label, its selector, and its pod template's
 * genome label and id annotation: at most a few KiB, whatever its template carries. Any other
 * workload, or one whose selector is larger than any real one (see MAX_SELECTOR_TERMS), keeps
 * its identity alone and is never rolled. Sets kind and apiVersion, which list items lack.
 * Never throws.
 */
export function shrinkWorkload(kind: string, apiVersion: string) {
  return (object: CachedWorkload): CachedWorkload => {
    const metadata = record(object.metadata);
    const kept = { apiVersion, kind, metadata: identity(metadata) };
    const genome = genomeLabel(metadata.labels);
    const spec = record(object.spec);
    const selector = keptSelector(spec.selector);
    if (genome === undefined || selector === undefined) return kept;
    const template = record(record(spec.template).metadata);
    const labels = genomeLabel(template.labels);
    const annotations = keptEntry(template.annotations, GENOME_ID_ANNOTATION, MAX_ID_CHARS);
    return {
      ...kept,
      metadata: { ...kept.metadata, labels: { [GENOME_LABEL]: genome } },
      spec: {
        selector,
        template: {
          metadata: {
            ...(labels !== undefined && { labels: { [GENOME_LABEL]: labels } }),
            ...(annotations !== undefined && { annotations }),
          },
        },
      },
    };
  };
}

function identity(metadata: Loose): NonNullable<CachedWorkload['metadata']> {
  const text = (key: string) => keptString(metadata[key], MAX_IDENTITY_CHARS);
  const deletionTimestamp = text('deletionTimestamp');
  return {
    name: text('name'),
    namespace: text('namespace'),
    uid: text('uid'),
    resourceVersion: text('resourceVersion'),
    // The API server's RFC 3339 string, typed as client-node's V1ObjectMeta has it: only its
    // presence is read.
    ...(deletionTimestamp !== undefined && { deletionTimestamp: deletionTimestamp as never }),
  };
}

/** A copy of a selector's matchLabels and matchExpressions, or undefined when it is too large. */
function keptSelector(value: unknown): LabelSelector | undefined {
  const selector = record(value);
  const matchLabels = Object.entries(record(selector.matchLabels));
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  if (matchLabels.length + expressions.length > MAX_SELECTOR_TERMS) return undefined;
  const matchExpressions = expressions.map(record).map((e) => ({
    key: e.key,
    operator: e.operator,
    ...(Array.isArray(e.values) && { values: e.values as unknown[] }),
  }));
  const values = matchExpressions.reduce((n, e) => n + (e.values?.length ?? 0), 0);
  if (values > MAX_SELECTOR_VALUES) return undefined;
  const strings: unknown[] = [
    ...matchLabels.flat(),
    ...matchExpressions.flatMap((e) => [e.key, e.operator, ...(e.values ?? [])]),
  ];
  let chars = 0;
  for (const s of strings) {
    if (typeof s !== 'string') return undefined;
    chars += s.length;
  }
  if (chars > MAX_SELECTOR_CHARS) return undefined;
  return {
    ...(matchLabels.length > 0 && { matchLabels: Object.fromEntries(matchLabels) as Labels }),
    ...(matchExpressions.length > 0 && {
      matchExpressions: matchExpressions as NonNullable<LabelSelector['matchExpressions']>,
    }),
  };
}

/**
 * The Genome a workload opts into: its own genome label, when its pod template's genome label
 * names the same Genome (otherwise its pods would run another Genome than it asks rollouts of).
 */
export function workloadGenome(workload: CachedWorkload): string | undefined {
  const own = genomeLabel(workload.metadata?.labels);
  return own !== undefined && own === genomeLabel(workload.spec?.template?.metadata?.labels)
    ? own
    : undefined;
}

/**
 * Whether a label selector selects these labels, as the API server matches them. An empty or
 * missing selector selects nothing here: apps/v1 refuses one, and "every pod" is never meant.
 */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>) {
  const match = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  if (match.length === 0 && expressions.length === 0) return false;
  return match.every(([k, v]) => labels[k] === v) && expressions.every((e) => holds(e, labels));
}

function holds(
  e: { key: string; operator: string; values?: string[] },
  labels: Record<string, string>,
): boolean {
  const value = labels[e.key];
  switch (e.operator) {
    case 'In':
      return value !== undefined && (e.values ?? []).includes(value);
    case 'NotIn':
      return value === undefined || !(e.values ?? []).includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return false;
  }
}

/** A Genome as far as rollouts go: no genome text is needed. */
export type RolloutGenome = Pick<GenomeResource, 'metadata' | 'status'> & {
  spec?: Pick<GenomeResource['spec'], 'rollout'>;
};

/** Everything the rollout decision looks at, gathered from the caches. */
export interface RolloutInput {
  genome: RolloutGenome;
  /** The genome id this reconcile verified against the current keys, or undefined if refused. */
  verifiedId: string | undefined;
  /** Every cached workload (any namespace; the decision keeps the Genome's own). */
  workloads: readonly CachedWorkload[];
  /** The labelled pods that name the Genome (others are ignored too). */
  pods: readonly CachedPod[];
}

/** A workload to roll (or, under spec.rollout Manual, that would be rolled). */
export interface Rollout {
  workload: CachedWorkload;
  kind: string;
  name: string;
  namespace: string;
  /** The id it is rolled to. */
  to: string;
  /** The id it ran: the template's stamp, else a running pod's (undefined: a pod with none). */
  from: string | undefined;
}

/** The decision: what to stamp, what Manual holds back, or why nothing is considered. */
export interface RolloutPlan {
  roll: Rollout[];
  /** Under spec.rollout Manual: the workloads that would have been rolled. */
  pending: Rollout[];
  /** Why no workload is considered at all (not verified, not yet published), if so. */
  held?: string;
}

/** The id the Genome's workloads should run now, or why there is none yet. */
function currentId(input: RolloutInput): { id: string } | { held: string } {
  if (input.verifiedId === undefined) return { held: 'the genome is not verified' };
  const { name = '', namespace = '' } = input.genome.metadata;
  const published = verifiedPublication(name, namespace, input.genome);
  // Stamp only once the stored status publishes this very id: the pod webhook injects from
  // that status, so a pod created by the rollout before it would be refused or get the old id.
  if (!('genomeId' in published) || published.genomeId !== input.verifiedId) {
    return { held: 'the status does not publish the verified id yet' };
  }
  return { id: input.verifiedId };
}

/** A pod that is not going away: not being deleted, not finished. */
function live(pod: CachedPod): boolean {
  const phase = pod.status?.phase;
  return (
    pod.metadata?.deletionTimestamp === undefined && phase !== 'Succeeded' && phase !== 'Failed'
  );
}

/** The live labelled pods of the workload: its namespace, its Genome, its selector. */
function podsOf(workload: CachedWorkload, pods: readonly CachedPod[], genome: string) {
  const namespace = workload.metadata?.namespace;
  const selector = workload.spec?.selector;
  return pods.filter((p) => {
    const labels = p.metadata?.labels ?? {};
    return (
      p.metadata?.namespace === namespace &&
      labels[GENOME_LABEL] === genome &&
      live(p) &&
      selects(selector, labels)
    );
  });
}

const idOf = (object: { metadata?: { annotations?: Labels } } | undefined) =>
  object?.metadata?.annotations?.[GENOME_ID_ANNOTATION];

/** The genome id stamped on a workload's pod template (stampPatch), if any. */
export const templateStamp = (workload: CachedWorkload) => idOf(workload.spec?.template);

/**
 * Whether one workload must be rolled to `id`, and from what. A stamp equal to `id` means done,
 * even while pods of the old id are still being replaced. Otherwise only a live pod that does
 * not run `id` calls for a roll: a new workload whose pods the webhook admitted with the
 * current id, or one restarted by hand (kubectl rollout restart under Manual), is not
 * restarted again. A workload with no live pod gets the stamp (it restarts nothing).
 */
export function rolloutOf(
  workload: CachedWorkload,
  id: string,
  pods: readonly CachedPod[],
  genome: string,
): Rollout | undefined {
  if (workload.metadata?.deletionTimestamp !== undefined) return undefined;
  const stamped = templateStamp(workload);
  if (stamped === id) return undefined;
  const running = podsOf(workload, pods, genome);
  const behind = running.find((p) => idOf(p) !== id);
  // Every live pod runs `id` already (a new workload, or one restarted by hand under Manual):
  // nothing to roll. A stamp of another id on a workload with no live pod is updated (free).
  if (behind === undefined && (stamped === undefined || running.length > 0)) return undefined;
  return rollout(workload, id, stamped ?? idOf(behind));
}

function rollout(workload: CachedWorkload, to: string, from: string | undefined): Rollout {
  const { name = '', namespace = '' } = workload.metadata ?? {};
  return { workload, kind: workload.kind ?? '', name, namespace, to, from };
}

/**
 * Decides the rollouts of one Genome: its verified and published id is stamped on the pod
 * template of each Deployment and StatefulSet of its namespace that opts into it (its own
 * genome label and its template's name the Genome) and does not run that id yet; under spec.rollout Manual they are only reported. Level-based: the same
 * caches give the same answer, whatever woke the reconcile.
 */
export function decideRollouts(input: RolloutInput): RolloutPlan {
  const current = currentId(input);
  if ('held' in current) return { roll: [], pending: [], held: current.held };
  const { name, namespace } = input.genome.metadata;
  const due = input.workloads
    .filter((w) => w.metadata?.namespace === namespace && workloadGenome(w) === name)
    .map((w) => rolloutOf(w, current.id, input.pods, name ?? ''))
    .filter((r) => r !== undefined)
    .sort((a, b) => `${a.kind}/${a.name}`.localeCompare(`${b.kind}/${b.name}`));
  return input.genome.spec?.rollout === ROLLOUT_MANUAL
    ? { roll: [], pending: due }
    : { roll: due, pending: [] };
}

/** The merge patch that stamps `id` on a pod template: that annotation and nothing else. */
export function stampPatch(id: string) {
  return { spec: { template: { metadata: { annotations: { [GENOME_ID_ANNOTATION]: id } } } } };
}

const short = (id: string | undefined) => (id === undefined ? 'none' : shortGenomeId(id));

/** What the Events of a rollout say: one on the Genome, one on the workload. */
export function rolledOutNotes(rollout: Rollout, genome: string) {
  const workload = `${rollout.kind} ${displayText(rollout.name)}`;
  const change = `genome ${short(rollout.to)} (was ${short(rollout.from)})`;
  return {
    genome: `rolled ${workload} to ${change}`,
    workload: `pod template stamped with ${change} of Genome ${displayText(genome)}: rolling update`,
  };
}

/** What the Event of a Genome under spec.rollout Manual says about the workloads held back. */
export function pendingNote(pending: readonly Rollout[], id: string): string {
  const names = pending.map((r) => `${r.kind} ${displayText(r.name)}`).join(', ');
  return `spec.rollout is Manual: ${names} still run an older genome than ${short(id)}; kubectl rollout restart rolls them`;
}

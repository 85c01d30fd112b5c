/**
 * What the pod webhook keeps of Genomes and published ConfigMaps, and the check that the
 * ConfigMap it injects is the Genome's own publication of its verified genome. Pure.
 *
 * Both caches are filled by watches of objects that tenants write, so each view is small and
 * bounded whatever the object holds (no labels, annotations, managed fields, spec or data):
 * the transforms below keep a few short fields, clip every string, and never throw.
 *
 * `genomes/status` and ConfigMaps are writable by more people than the genome's signers, so
 * nothing in a status is taken on its word: the ConfigMap it names must be controlled by the
 * Genome (controller owner reference with its uid), carry the name the operator gives the
 * verified id, be immutable, and hold a genome whose id (computed here from its content,
 * strictly parsed) is that id, which is also the id of the Genome's own spec.genome.
 */
import {
  CONDITION_VERIFIED,
  GENOME_API_VERSION,
  GENOME_CONFIGMAP_KEY,
  GENOME_KIND,
  type GenomeCondition,
} from './api.ts';
import { canonicalBytes, genomeId, sha256Hex } from './canonical.ts';
import { parseGenome } from './genome.ts';
import { configMapName } from './render.ts';

/** Longest string a view keeps of a name, uid, id or reason (longer ones are clipped). */
const MAX_FIELD_CHARS = 253;
/** Longest condition message a view keeps (what a refusal quotes of it). */
const MAX_MESSAGE_CHARS = 1024;

/** The Genome as the pod webhook's cache holds it. */
export interface GenomeView {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    deletionTimestamp?: string;
  };
  /** The id of spec.genome as stored; absent when it cannot be computed. */
  specGenomeId?: string;
  status?: {
    observedGeneration?: number;
    genomeId?: string;
    configMapName?: string;
    /** Only the Verified condition is kept. */
    conditions?: Pick<GenomeCondition, 'type' | 'status' | 'reason' | 'message'>[];
  };
}

/** The controller owner reference of a ConfigMap, as the view keeps it. */
export interface ControllerRef {
  apiVersion?: string;
  kind?: string;
  uid?: string;
}

/** A ConfigMap labelled managed-by genome-operator, as the pod webhook's cache holds it. */
export interface ConfigMapView {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  /** Its controller owner reference, if it has one. */
  controller?: ControllerRef;
  immutable?: boolean;
  /** The genome id of data["genome.json"]; absent when that is missing or not a valid genome. */
  genomeId?: string;
}

type Obj = Record<string, unknown>;

function asObj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}

/** A string field, clipped; anything else is dropped. */
function str(value: unknown, max = MAX_FIELD_CHARS): string | undefined {
  return typeof value === 'string' ? value.slice(0, max) : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** Drops the keys whose value is undefined, so a view serializes to its kept fields only. */
function defined<T extends Obj>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

function viewMetadata(metadata: Obj) {
  return {
    name: str(metadata.name),
    namespace: str(metadata.namespace),
    uid: str(metadata.uid),
    resourceVersion: str(metadata.resourceVersion),
  };
}

function verifiedCondition(status: Obj): GenomeView['status'] {
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const verified = conditions.map(asObj).find((c) => c.type === CONDITION_VERIFIED);
  if (verified === undefined) return undefined;
  return {
    conditions: [
      defined({
        type: CONDITION_VERIFIED,
        status: str(verified.status) as GenomeCondition['status'],
        reason: str(verified.reason) ?? '',
        message: str(verified.message, MAX_MESSAGE_CHARS) ?? '',
      }),
    ],
  };
}

/** The id of a stored spec.genome, or undefined (not an object, or too deep to serialize). */
function specId(spec: Obj): string | undefined {
  const genome = spec.genome;
  if (genome === null || typeof genome !== 'object' || Array.isArray(genome)) return undefined;
  try {
    return genomeId(genome);
  } catch {
    return undefined;
  }
}

/**
 * The informer transform of the pod webhook's Genome cache: name, namespace, uid,
 * resourceVersion, generation, deletionTimestamp, the id of spec.genome (reused from
 * `previous` while the generation is unchanged: a status write does not hash the genome
 * again), and the status fields the pod webhook reads. Never throws.
 */
export function genomeView(object: unknown, previous?: unknown): GenomeView {
  const source = asObj(object);
  const metadata = asObj(source.metadata);
  const status = asObj(source.status);
  const before = asObj(previous) as Partial<GenomeView>;
  const generation = num(metadata.generation);
  const sameSpec =
    before.metadata !== undefined &&
    generation !== undefined &&
    before.metadata.generation === generation &&
    before.metadata.uid === metadata.uid;
  return defined({
    metadata: defined({
      ...viewMetadata(metadata),
      generation,
      deletionTimestamp: str(metadata.deletionTimestamp),
    }),
    specGenomeId: sameSpec ? before.specGenomeId : specId(asObj(source.spec)),
    status: defined({
      observedGeneration: num(status.observedGeneration),
      genomeId: str(status.genomeId),
      configMapName: str(status.configMapName),
      ...verifiedCondition(status),
    }),
  });
}

/** The genome id of a published genome.json: strictly parsed and valid, else undefined. */
function publishedGenomeId(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const parsed = parseGenome(text);
    if (!parsed.ok) return undefined;
    return sha256Hex(canonicalBytes(parsed.genome, parsed.nestedKeysSorted));
  } catch {
    return undefined;
  }
}

function controllerOf(metadata: Obj): ControllerRef | undefined {
  const refs = Array.isArray(metadata.ownerReferences) ? metadata.ownerReferences : [];
  const ref = refs.map(asObj).find((r) => r.controller === true);
  if (ref === undefined) return undefined;
  return defined({ apiVersion: str(ref.apiVersion), kind: str(ref.kind), uid: str(ref.uid) });
}

/**
 * The informer transform of the pod webhook's ConfigMap cache: name, namespace, uid,
 * resourceVersion, the controller owner reference, immutable, and the genome id computed from
 * data["genome.json"]; never the data itself. Never throws.
 *
 * The id (a strict parse and a hash: ~20 ms for a 1.4 MB genome) is computed only for what a
 * Genome may have published, immutable and controlled by a Genome (any other is never
 * injected), and once per such ConfigMap (`previous`, the cached view: an immutable
 * ConfigMap's uid fixes its content), so that no tenant can make the webhook parse in a loop
 * by updating a labelled ConfigMap.
 */
export function configMapView(object: unknown, previous?: ConfigMapView): ConfigMapView {
  const source = asObj(object);
  const metadata = asObj(source.metadata);
  const view: ConfigMapView = defined({
    metadata: defined(viewMetadata(metadata)),
    controller: controllerOf(metadata),
    immutable: source.immutable === true ? true : undefined,
  });
  if (view.immutable !== true || view.controller?.kind !== 'Genome') return view;
  const known = previous?.immutable === true && previous.metadata.uid === view.metadata.uid;
  const id =
    known && view.metadata.uid !== undefined
      ? previous.genomeId
      : publishedGenomeId(asObj(source.data)[GENOME_CONFIGMAP_KEY]);
  return defined({ ...view, genomeId: id });
}

const GENOME_ID = /^[0-9a-f]{64}$/;

/** The publication a Genome's status names, once the status itself is consistent. */
export interface Publication {
  genomeId: string;
  configMapName: string;
}

/**
 * Why the status's genome id and ConfigMap name cannot be the operator's (or undefined): the
 * id is not a SHA-256, not the id of the Genome's own spec.genome, or the name is not the one
 * the operator gives that id.
 */
export function statusPublicationProblem(
  name: string,
  genome: GenomeView,
  publication: Publication,
): string | undefined {
  const { genomeId: id, configMapName: cm } = publication;
  if (!GENOME_ID.test(id)) return 'has a status.genomeId that is not a genome id';
  if (genome.specGenomeId !== id)
    return 'has a status.genomeId that is not the id of its spec.genome';
  if (cm !== configMapName(name, id))
    return `has a status.configMapName that is not the operator's name for that genome id (${configMapName(name, id)})`;
  return undefined;
}

/**
 * Why `configMap` is not the Genome's own immutable publication of `genomeId` (or undefined):
 * missing from the cache, not controlled by the Genome (its uid), mutable, or holding another
 * genome (or none that parses).
 */
export function configMapProblem(
  genome: GenomeView,
  configMap: ConfigMapView | undefined,
  genomeIdWanted: string,
): string | undefined {
  if (configMap === undefined)
    return 'is not among the published ConfigMaps (label app.kubernetes.io/managed-by=genome-operator) the webhook has seen';
  const owner = configMap.controller;
  if (
    owner?.kind !== GENOME_KIND ||
    owner.apiVersion !== GENOME_API_VERSION ||
    owner.uid === undefined ||
    owner.uid !== genome.metadata.uid
  )
    return 'is not controlled by this Genome (its controller owner reference is not the Genome uid)';
  if (configMap.immutable !== true) return 'is not immutable';
  if (configMap.genomeId === undefined) return 'holds no valid genome.json';
  if (configMap.genomeId !== genomeIdWanted)
    return 'holds a genome.json whose genome id is not the verified one';
  return undefined;
}

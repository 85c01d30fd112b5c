/**
 * The pod mutating webhook's decision: for a CREATE of a pod that names a Genome, inject the
 * Genome's verified publication (core/plan-injection.ts) or refuse with the code and the
 * Genome's reason; for an UPDATE, refuse a change of the genome label. The Genome and its
 * ConfigMap come from the webhook's informer caches: no API call here.
 */
import { refuse, type Refusal } from '../core/codes.ts';
import { displayText } from '../core/display.ts';
import { planInjection, requestedGenome, type InjectionSettings } from '../core/plan-injection.ts';
import type { ConfigMapView, GenomeView } from '../core/publication.ts';
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from './admission.ts';

/** One of the webhook's caches, keyed `namespace/name`. */
export interface ViewCache<T> {
  get(key: string): T | undefined;
  synced(): boolean;
}

/** The webhook's view of the Genomes of the cluster (core/publication.ts genomeView). */
export type GenomeCache = ViewCache<GenomeView>;

/** The published ConfigMaps of the cluster (core/publication.ts configMapView). */
export type ConfigMapCache = ViewCache<ConfigMapView>;

/** What the pod webhook reads: both caches. */
export interface PublishedCaches {
  genomes: GenomeCache;
  configMaps: ConfigMapCache;
}

/** The answer, with what the log line needs. */
export interface PodMutationDecision {
  response: AdmissionResponse;
  genomeId?: string;
  code?: string;
  /** Why nothing was decided about a genome (not a pod CREATE, or no genome label). */
  skipped?: string;
}

/** Decides the admission of a pod: inject, refuse, or let it through untouched. */
export function decidePodMutation(
  request: AdmissionRequest,
  caches: PublishedCaches,
  settings: InjectionSettings,
  { trustCurrent }: { trustCurrent: boolean },
): PodMutationDecision {
  const { uid } = request;
  const early = beforeInjection(request, caches, trustCurrent);
  if (early !== undefined) return early;
  const name = requestedGenome(request.object) ?? '';
  const namespace = request.namespace ?? '';
  const source = {
    genome: caches.genomes.get(`${namespace}/${name}`),
    configMap: (cm: string) => caches.configMaps.get(`${namespace}/${cm}`),
  };
  const plan = planInjection(request.object, namespace, source, settings);
  if (!plan.ok) return { response: denied(uid, plan.refusal), code: plan.refusal.code };
  const response = allowed(uid);
  if (plan.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(plan.patch)).toString('base64');
  }
  return { response, genomeId: plan.genomeId };
}

/**
 * The decision for a request that needs no injection (not a Pod CREATE, no genome label) or
 * cannot have one now; undefined for a labelled pod to inject.
 */
function beforeInjection(
  request: AdmissionRequest,
  caches: PublishedCaches,
  trustCurrent: boolean,
): PodMutationDecision | undefined {
  const { uid } = request;
  if (request.kind.group !== '' || request.kind.kind !== 'Pod') {
    const refusal = refuse('WEBHOOK_MISCONFIGURED', `sent a ${request.kind.kind}, not a Pod`);
    return { response: denied(uid, refusal), code: refusal.code };
  }
  if (request.operation === 'UPDATE') return labelKept(request);
  if (request.operation !== 'CREATE') return { response: allowed(uid), skipped: 'not a CREATE' };
  if (requestedGenome(request.object) === undefined)
    return { response: allowed(uid), skipped: 'no genome label' };
  const unready = notReady(caches, trustCurrent);
  return unready === undefined ? undefined : { response: denied(uid, unready), code: unready.code };
}

/** Why no pod can be decided now (stale keys, caches not synced), or undefined. */
function notReady(caches: PublishedCaches, trustCurrent: boolean): Refusal | undefined {
  // The Genome's status may predate a revocation the operator has not been able to see.
  if (!trustCurrent)
    return refuse(
      'TRUST_KEYS_STALE',
      'the trusted keys are not current (not loaded yet, or their watch has been down longer than its bound), so a key removed meanwhile may still be counted',
    );
  if (!synced(caches))
    return refuse('WEBHOOK_NOT_READY', 'the Genome or ConfigMap cache has not synced yet');
  return undefined;
}

function synced(caches: PublishedCaches): boolean {
  return caches.genomes.synced() && caches.configMaps.synced();
}

/**
 * An UPDATE of a pod: allowed, untouched, unless it adds, removes or changes the genome label.
 * A pod names its Genome at CREATE, where the genome is injected and the boot check added; a
 * label added later would name a Genome for a pod that never got either, and a label removed
 * would take the pod out of the operator's watch with its gate as it was.
 */
function labelKept(request: AdmissionRequest): PodMutationDecision {
  const before = requestedGenome(request.oldObject);
  const after = requestedGenome(request.object);
  if (before === after) return { response: allowed(request.uid), skipped: 'label unchanged' };
  const show = (name: string | undefined) => (name === undefined ? 'none' : displayText(name));
  const refusal = refuse(
    'POD_GENOME_LABEL_CHANGED',
    `the label genome.mathison.io/genome of a pod cannot change after it is created (from ${show(before)} to ${show(after)})`,
  );
  return { response: denied(request.uid, refusal), code: refusal.code };
}

/**
 * The pod mutating webhook's decision: for a CREATE of a pod that names a Genome, inject the
 * Genome's verified publication (core/plan-injection.ts) or refuse with the code and the
 * Genome's reason; for an UPDATE, refuse a change of the genome label. The Genome comes from the webhook's informer cache: no API call here.
 */
import type { GenomeResource } from '../core/api.ts';
import { refuse } from '../core/codes.ts';
import { displayText } from '../core/display.ts';
import { planInjection, requestedGenome, type InjectionSettings } from '../core/plan-injection.ts';
import { allowed, denied, type AdmissionRequest, type AdmissionResponse } from './admission.ts';

/** The webhook's view of the Genomes of the cluster, keyed `namespace/name`. */
export interface GenomeCache {
  get(key: string): GenomeResource | undefined;
  synced(): boolean;
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
  genomes: GenomeCache,
  settings: InjectionSettings,
): PodMutationDecision {
  const { uid } = request;
  if (request.kind.group !== '' || request.kind.kind !== 'Pod') {
    const refusal = refuse('WEBHOOK_MISCONFIGURED', `sent a ${request.kind.kind}, not a Pod`);
    return { response: denied(uid, refusal), code: refusal.code };
  }
  if (request.operation === 'UPDATE') return labelKept(request);
  if (request.operation !== 'CREATE') return { response: allowed(uid), skipped: 'not a CREATE' };
  const name = requestedGenome(request.object);
  if (name === undefined) return { response: allowed(uid), skipped: 'no genome label' };
  if (!genomes.synced()) {
    const refusal = refuse('WEBHOOK_NOT_READY', 'the Genome cache has not synced yet');
    return { response: denied(uid, refusal), code: refusal.code };
  }
  const namespace = request.namespace ?? '';
  const plan = planInjection(
    request.object,
    namespace,
    genomes.get(`${namespace}/${name}`),
    settings,
  );
  if (!plan.ok) return { response: denied(uid, plan.refusal), code: plan.refusal.code };
  const response = allowed(uid);
  if (plan.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(plan.patch)).toString('base64');
  }
  return { response, genomeId: plan.genomeId };
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

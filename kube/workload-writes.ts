import {
  AppsV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../core/api.ts';
import { isNotFound } from './errors.ts';

/** A Deployment or StatefulSet to patch; `uid` makes the patch fail (422) on a namesake. */
export interface WorkloadRef {
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** The operator's writes on workloads, with field manager genome-operator. */
export interface WorkloadWrites {
  /**
   * Merge-patches one annotation onto the workload's pod template (the rollout's only write;
   * never an update, so no other field is touched). A workload that is gone is done.
   */
  patchTemplate(workload: WorkloadRef, patch: object): Promise<void>;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The workload writes on the API server of `kc`. */
export function workloadWrites(kc: KubeConfig): WorkloadWrites {
  const apps = kc.makeApiClient(AppsV1Api);
  return {
    patchTemplate: async (workload, patch) => {
      const { namespace, name, uid } = workload;
      // metadata.uid in a patch acts as a precondition: on a workload recreated under the same
      // name since the cache saw it, the API server refuses to change the uid (422 Invalid), so
      // nothing is written, and the queue retries on a fresher cache.
      const body = { ...patch, ...(uid !== undefined && { metadata: { uid } }) };
      const request = { namespace, name, body, fieldManager: FIELD_MANAGER };
      try {
        if (workload.kind === 'Deployment') await apps.patchNamespacedDeployment(request, MERGE);
        else if (workload.kind === 'StatefulSet')
          await apps.patchNamespacedStatefulSet(request, MERGE);
        else throw new Error(`cannot roll out a ${workload.kind}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
  };
}

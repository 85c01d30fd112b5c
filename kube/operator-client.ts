import type { TrustPolicyStatus } from '../core/trust-policy.ts';
import { TRUST_POLICY_KIND, TRUST_POLICY_PLURAL } from '../core/trust-policy-schema.ts';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, type GenomeResource, type GenomeStatus } from '../core/api.ts';
import {
  GENOME_API_VERSION,
  GENOME_GROUP,
  GENOME_KIND,
  GENOME_PLURAL,
  GENOME_VERSION,
} from '../core/api.ts';
import type { PublishedConfigMap } from '../core/render.ts';
import { absentOn404, isNotFound, statusCode } from './errors.ts';
import { getObject } from './list-watch-client.ts';

/**
 * The operator's calls to the API server: its writes, all with field manager genome-operator,
 * and the few reads its caches cannot answer.
 */
export interface OperatorClient {
  /**
   * Reads the text under `key` of the ConfigMap with `uid`; undefined when it is gone, is
   * another object now, or has no such key. The cache keeps no ConfigMap data: this is how an
   * older published genome is read when it must be verified again.
   */
  readConfigMapText(
    namespace: string,
    name: string,
    uid: string,
    key: string,
  ): Promise<string | undefined>;
  /**
   * The Genome `namespace/name` as the API server has it, at least as new as `resourceVersion`
   * (from its watch cache, which waits to catch up if need be); undefined when absent.
   */
  readGenome(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
  ): Promise<GenomeResource | undefined>;
  /**
   * The pod as the API server has it now; undefined when it is gone. For a pod that left the
   * operator's label-selected cache: the gate controller sees whether it lives on unlabelled.
   */
  readPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** Server-side applies a published ConfigMap; returns its uid. */
  applyConfigMap(configMap: PublishedConfigMap): Promise<string | undefined>;
  /** Deletes a ConfigMap (only the one with `uid`, when given); absent is done. */
  deleteConfigMap(namespace: string, name: string, uid?: string): Promise<void>;
  /** Server-side applies a Genome's status through the status subresource. */
  applyStatus(namespace: string, name: string, status: GenomeStatus): Promise<void>;
  /** Writes a GenomeTrustPolicy's status (server-side apply of the status subresource). */
  applyPolicyStatus(name: string, status: TrustPolicyStatus): Promise<void>;
  /**
   * Sets the readiness gate's condition on the pod with `uid` (a strategic merge patch of
   * pods/status: the one condition, merged by type; the kubelet's conditions are untouched).
   */
  patchPodGate(
    namespace: string,
    name: string,
    uid: string,
    condition: PodCondition,
  ): Promise<void>;
}

/** A pod condition, as written. */
export interface PodCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** The operator's reads and writes on the API server of `kc`. */
export function operatorClient(kc: KubeConfig): OperatorClient {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const deleteConfigMap = configMapDeleter(core);
  const apply = (configMap: PublishedConfigMap) =>
    core.patchNamespacedConfigMap(
      {
        namespace: configMap.metadata.namespace,
        name: configMap.metadata.name,
        body: configMap,
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      APPLY,
    );
  return {
    readConfigMapText: async (namespace, name, uid, key) => {
      const configMap = await absentOn404(core.readNamespacedConfigMap({ namespace, name }));
      return configMap?.metadata?.uid === uid ? configMap.data?.[key] : undefined;
    },
    readGenome: (namespace, name, resourceVersion) => {
      const path = `/apis/${GENOME_GROUP}/${GENOME_VERSION}/namespaces/${encodeURIComponent(namespace)}/${GENOME_PLURAL}/${encodeURIComponent(name)}`;
      const read = getObject(kc, path, { resourceVersion }) as Promise<unknown>;
      return absentOn404(read as Promise<GenomeResource>);
    },
    readPod: (namespace, name) => absentOn404(core.readNamespacedPod({ namespace, name })),
    deleteConfigMap,
    applyConfigMap: async (configMap) => {
      try {
        return (await apply(configMap)).metadata?.uid;
      } catch (err) {
        // 422: a ConfigMap of that name exists with other immutable content: replace it.
        if (statusCode(err) !== 422) throw err;
        await deleteConfigMap(configMap.metadata.namespace, configMap.metadata.name);
        return (await apply(configMap)).metadata?.uid;
      }
    },
    applyStatus: (namespace, name, status) => applyStatus(custom, { namespace, name, status }),
    applyPolicyStatus: async (name, status) => {
      await custom.patchClusterCustomObjectStatus(
        {
          group: GENOME_GROUP,
          version: GENOME_VERSION,
          plural: TRUST_POLICY_PLURAL,
          name,
          body: {
            apiVersion: GENOME_API_VERSION,
            kind: TRUST_POLICY_KIND,
            metadata: { name },
            status,
          },
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        APPLY,
      );
    },
    patchPodGate: async (namespace, name, uid, condition) => {
      // The uid makes the patch fail (the uid is immutable) on a new pod of the same name.
      const body = { metadata: { uid }, status: { conditions: [condition] } };
      await core.patchNamespacedPodStatus(
        { namespace, name, body, fieldManager: FIELD_MANAGER },
        STRATEGIC,
      );
    },
  };
}

/** Deletes a ConfigMap (only the one with `uid`, when given); absent is done. */
function configMapDeleter(core: CoreV1Api) {
  return async (namespace: string, name: string, uid?: string) => {
    try {
      await core.deleteNamespacedConfigMap({
        namespace,
        name,
        ...(uid !== undefined && { body: { preconditions: { uid } } }),
      });
    } catch (err) {
      // 404: gone already. 409: a precondition failed, so it is another object now.
      if (!isNotFound(err) && statusCode(err) !== 409) throw err;
    }
  };
}

/** Server-side applies a Genome's status through the status subresource. */
async function applyStatus(
  custom: CustomObjectsApi,
  { namespace, name, status }: { namespace: string; name: string; status: GenomeStatus },
): Promise<void> {
  await custom.patchNamespacedCustomObjectStatus(
    {
      group: GENOME_GROUP,
      version: GENOME_VERSION,
      namespace,
      plural: GENOME_PLURAL,
      name,
      body: {
        apiVersion: GENOME_API_VERSION,
        kind: GENOME_KIND,
        metadata: { name, namespace },
        status,
      },
      fieldManager: FIELD_MANAGER,
      force: true,
    },
    APPLY,
  );
}

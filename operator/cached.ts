/**
 * The shapes of what the operator's caches hold, in one place: each cache shrinks its objects
 * on arrival to these few bounded fields (pods: operator/cached-pod.ts; Deployments and
 * StatefulSets: operator/rollout.ts shrinkWorkload; ConfigMaps: kube/strip.ts digestConfigMap;
 * Genomes: operator/genome-store.ts), and the controllers read nothing else. A field a
 * controller needs and the cache does not keep reads as absent: add it here and in the
 * transform, bounded, together.
 */
import type { V1LabelSelector, V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import type { GenomeResource } from '../core/api.ts';
import type { InjectionCheck } from '../core/injection-check.ts';

/**
 * The identity and labels every cached object keeps, and whether it is being deleted: the API
 * server's RFC 3339 string, which client-node types as a Date (only its presence is read).
 */
type CachedMeta = Pick<
  V1ObjectMeta,
  'name' | 'namespace' | 'uid' | 'resourceVersion' | 'labels' | 'annotations' | 'deletionTimestamp'
>;

/** A pod condition as a cached pod carries it (the gate's, and the kubelet's). */
export interface CachedPodCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | Date;
}

/**
 * A labelled pod (label genome.mathison.io/genome): what its gate and the rollouts read — its
 * genome volume, its declared gates, whether its injection is complete, phase and conditions.
 */
export interface CachedPod {
  apiVersion?: string;
  kind?: string;
  metadata?: CachedMeta;
  spec?: {
    volumes?: { name?: string; configMap?: { name?: string } }[];
    readinessGates?: { conditionType?: string }[];
    /**
     * Whether every application container runs on the injected genome (checkInjection, computed
     * each time the pod is cached: its containers are not kept). Absent: never checked.
     */
    injection?: InjectionCheck;
  };
  status?: {
    phase?: string;
    conditions?: CachedPodCondition[];
    /** The boot check's last termination (its current state's, else its last state's). */
    bootCheck?: { exitCode?: number; message?: string };
  };
}

/** A ConfigMap the operator published (label managed-by): its identity, owner and a digest. */
export interface CachedConfigMap {
  apiVersion?: string;
  kind?: string;
  metadata?: CachedMeta & {
    ownerReferences?: Partial<Pick<V1OwnerReference, 'uid' | 'controller' | 'kind' | 'name'>>[];
  };
  immutable?: boolean;
  /** The digest of its data (core/render.ts configMapDataDigest); the cache keeps no data. */
  dataDigest?: string;
}

/** A label selector (apps/v1 `spec.selector`). */
export type LabelSelector = V1LabelSelector;

/**
 * A Deployment or StatefulSet that opts into rollouts: its own genome label (the opt-in), its
 * selector, and its pod template's genome label and id annotation.
 */
export interface CachedWorkload {
  apiVersion?: string;
  kind?: string;
  metadata?: CachedMeta;
  spec?: {
    selector?: LabelSelector;
    template?: { metadata?: Pick<V1ObjectMeta, 'labels' | 'annotations'> };
  };
}

/**
 * A Genome as the operator caches it: `spec.genome` replaced by the digest of its JSON text,
 * `spec.genomeDigest`. GenomeStore.get gives the Genome back with its genome.
 */
export interface CompactGenome extends Omit<GenomeResource, 'spec'> {
  spec: Omit<GenomeResource['spec'], 'genome'> & { genomeDigest?: string };
}

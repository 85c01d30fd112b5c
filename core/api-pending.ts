/**
 * Stand-in for core/api.ts (branch `kube`), which is being written at the same time: the
 * Genome resource's types and the names the operator uses. Replaced by imports from
 * core/api.ts once that lands; nothing here is meant to outlive the merge.
 */
import type { Condition } from './conditions.ts';
import type { Genome } from './genome.ts';

/** The field manager of every write the operator makes. */
export const FIELD_MANAGER = 'genome-operator';

/** Condition types and the reasons of their True state. */
export const VERIFIED = 'Verified';
export const READY = 'Ready';
export const PUBLISHED = 'Published';

/** The label a pod carries to opt in, naming its Genome; also on the Genome's ConfigMaps. */
export const GENOME_LABEL = 'genome.mathison.io/genome';

/** The annotation holding a genome id. */
export const GENOME_ID_ANNOTATION = 'genome.mathison.io/id';

/** The status the operator writes. */
export interface GenomeStatus {
  observedGeneration?: number;
  genomeId?: string;
  shortId?: string;
  verifiedSigners?: string[];
  configMapName?: string;
  conditions?: Condition[];
}

/** A Genome resource as read from the API server. */
export interface GenomeResource {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
  };
  spec: { genome: Genome | unknown };
  status?: GenomeStatus;
}

/** The label on the operator's ConfigMaps holding the owning Genome's uid (names may exceed 63). */
export const GENOME_UID_LABEL = 'genome.mathison.io/genome-uid';

/** Standard label naming the tool that manages an object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/**
 * Genome resources for tests, as the API server stores them, and the verified Genome with the
 * ConfigMap the operator publishes for it (core/render.ts desiredConfigMap).
 */
import {
  GENOME_API_VERSION,
  GENOME_KIND,
  type GenomeConditionType,
  type GenomeResource,
  type GenomeStatus,
  type RolloutPolicy,
} from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import type { PublishedSource } from '../../core/plan-injection.ts';
import { configMapView, genomeView } from '../../core/publication.ts';
import { configMapName, desiredConfigMap } from '../../core/render.ts';
import { build } from './metadata.ts';

/** One part of a Genome resource: `inNamespace('apps')`, `atGeneration(2)`, ... */
export type GenomeResourcePart = (g: GenomeResource) => GenomeResource;

/**
 * Returns the Genome resource `name` holding `genome` (anything: the API server stores what a
 * tenant sends) under spec.genome, changed by `parts`.
 */
export function genomeResource(
  name: string,
  genome: unknown,
  ...parts: GenomeResourcePart[]
): GenomeResource {
  const resource: GenomeResource = {
    apiVersion: GENOME_API_VERSION,
    kind: GENOME_KIND,
    metadata: { name },
    spec: { genome },
  };
  return build(resource, parts);
}

/** At metadata.generation `generation`. */
export const atGeneration =
  (generation: number): GenomeResourcePart =>
  (g) => ({ ...g, metadata: { ...g.metadata, generation } });

/** With this status (none: left without one, as before the operator writes it). */
export const withStatus =
  (status: GenomeStatus | undefined): GenomeResourcePart =>
  (g) =>
    status === undefined ? g : { ...g, status };

/** With spec.rollout `policy` (none: left unset, which means Automatic). */
export const withRollout =
  (policy: RolloutPolicy | undefined): GenomeResourcePart =>
  (g) =>
    policy === undefined ? g : { ...g, spec: { ...g.spec, rollout: policy } };

/** A Genome the operator has verified and published, and that publication. */
export interface PublishedGenome {
  genome: GenomeResource;
  configMap: ReturnType<typeof desiredConfigMap>;
  genomeId: string;
  configMapName: string;
}

/** Where a published Genome lives and what it holds. */
export interface PublishedOptions {
  name: string;
  namespace: string;
  genome: Genome | Record<string, unknown>;
  uid?: string;
  generation?: number;
}

/**
 * Returns the Genome with the status the operator writes once it is verified (by
 * TEST-ONLY-totk-key-001), and its ConfigMap.
 */
export function publishedGenome(options: PublishedOptions): PublishedGenome {
  const { name, namespace, generation = 1 } = options;
  const uid = options.uid ?? '5f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5';
  const id = genomeId(options.genome);
  const cm = configMapName(name, id);
  const condition = (type: GenomeConditionType, reason: string) => ({
    type,
    status: 'True' as const,
    reason,
    message: 'verified by TEST-ONLY-totk-key-001',
    lastTransitionTime: '2026-12-01T00:00:00Z',
    observedGeneration: generation,
  });
  const verified = {
    ok: true as const,
    genome: options.genome as Genome,
    genomeId: id,
    signers: [],
    warnings: [],
  };
  return {
    genome: {
      apiVersion: GENOME_API_VERSION,
      kind: GENOME_KIND,
      metadata: { name, namespace, uid, resourceVersion: '1234', generation },
      spec: { genome: options.genome },
      status: {
        observedGeneration: generation,
        genomeId: id,
        shortId: id.slice(0, 12),
        verifiedSigners: ['TEST-ONLY-totk-key-001'],
        configMapName: cm,
        conditions: [condition('Verified', 'Verified'), condition('Ready', 'Published')],
      },
    },
    configMap: desiredConfigMap({ name, namespace, uid }, options.genome, verified, []),
    genomeId: id,
    configMapName: cm,
  };
}

/**
 * Returns the pod webhook's source for a Genome (or none) and some ConfigMaps, each shrunk by
 * the webhook's own transforms.
 */
export function publishedSource(
  genome: GenomeResource | undefined,
  configMaps: readonly object[],
): PublishedSource {
  const views = new Map(
    configMaps.map((c) => configMapView(c)).map((v) => [v.metadata.name ?? '', v]),
  );
  return {
    genome: genome === undefined ? undefined : genomeView(genome),
    configMap: (name) => views.get(name),
  };
}

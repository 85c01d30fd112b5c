/**
 * Builders for tests and benches: a verified Genome and the ConfigMap the operator publishes
 * for it (core/render.ts desiredConfigMap), as the API server stores them, and the pod
 * webhook's source over them. Imports nothing but core/.
 */
import type { GenomeConditionType, GenomeResource } from './api.ts';
import { genomeId } from './canonical.ts';
import type { Genome } from './genome.ts';
import type { PublishedSource } from './plan-injection.ts';
import { configMapView, genomeView } from './publication.ts';
import { configMapName, desiredConfigMap } from './render.ts';

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

/** The Genome with the status the operator writes once it is verified, and its ConfigMap. */
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
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'Genome',
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
 * The pod webhook's source for a Genome (or none) and some ConfigMaps, each shrunk by the
 * webhook's own transforms.
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

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GenomeResource } from '../core/api.ts';
import { canonicalBytes } from '../core/canonical.ts';
import { verify } from '../core/verify.ts';
import { parseTrustFile } from '../core/trust.ts';
import {
  compactGenome,
  genomeExpander,
  genomeWithoutSpec,
  LAST_APPLIED_ANNOTATION,
  stripBookkeeping,
  type CompactGenome,
} from './strip.ts';

describe('stripBookkeeping', () => {
  it('drops managedFields and the last-applied copy, and keeps everything else', () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'a',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { l: '1' },
        annotations: { keep: 'yes', [LAST_APPLIED_ANNOTATION]: '{"huge":true}' },
        managedFields: [{ manager: 'kubectl', fieldsV1: {} }],
      },
      data: { 'genome.json': '{}' },
    };
    expect(stripBookkeeping(object)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'a',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { l: '1' },
        annotations: { keep: 'yes' },
      },
      data: { 'genome.json': '{}' },
    });
  });

  it('leaves an object without them as it is', () => {
    const object = { metadata: { name: 'a', annotations: { keep: 'yes' } } };
    expect(stripBookkeeping(object)).toEqual(object);
    expect(stripBookkeeping({ kind: 'X' })).toEqual({ kind: 'X' });
  });

  it('genomeWithoutSpec keeps metadata and status, not the genome', () => {
    const genome = {
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'Genome',
      metadata: { name: 'totk', generation: 2, managedFields: [] },
      spec: { genome: { name: 'TOTK' } },
      status: { genomeId: 'a'.repeat(64), observedGeneration: 2 },
    };
    expect(genomeWithoutSpec(genome)).toEqual({
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'Genome',
      metadata: { name: 'totk', generation: 2 },
      status: { genomeId: 'a'.repeat(64), observedGeneration: 2 },
    });
  });
});

const INTEROP = join(import.meta.dirname, '..', 'test', 'vectors', 'interop');

/** compactGenome as the operator's informer applies it, typed for these tests. */
const compact = (g: GenomeResource) =>
  compactGenome(g as unknown as KubernetesObject) as unknown as CompactGenome;

function genomeResource(genome: unknown): GenomeResource {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name: 'g', namespace: 'ns', uid: 'u', managedFields: [{ manager: 'm' }] },
    spec: { genome, rollout: 'Manual' },
  } as GenomeResource;
}

describe('compactGenome and genomeExpander (the operator keeps a genome as text)', () => {
  it('keeps the genome as one string and gives back the same genome, which verifies the same', () => {
    const text = readFileSync(join(INTEROP, 'upstream-test-genome.json'), 'utf8');
    const set = parseTrustFile(
      readFileSync(join(INTEROP, 'upstream-test-genome.trust.json'), 'utf8'),
      'interop',
    );
    if (!('keys' in set)) throw new Error(set.message);
    const trust = set.keys;
    const object = genomeResource(JSON.parse(text));
    const compacted = compact(object);
    expect(compacted.spec).toEqual({
      rollout: 'Manual',
      genomeText: JSON.stringify(JSON.parse(text)),
    });
    expect((compacted.metadata as Record<string, unknown>).managedFields).toBeUndefined();
    // A status update carries the same genome: the cached string is kept, not a new copy.
    const updated = { ...object, status: { observedGeneration: 1 } } as GenomeResource;
    const again = compactGenome(
      updated as unknown as KubernetesObject,
      compacted as unknown as KubernetesObject,
    ) as unknown as CompactGenome;
    expect(again.spec.genomeText).toBe(compacted.spec.genomeText);
    const changed = genomeResource({ ...JSON.parse(text), version: '9.9.9' });
    const other = compactGenome(
      changed as unknown as KubernetesObject,
      compacted as unknown as KubernetesObject,
    ) as unknown as CompactGenome;
    expect(other.spec.genomeText).not.toBe(compacted.spec.genomeText);
    expect(genomeExpander()(other)!.spec.genome).toEqual(changed.spec.genome);
    const expanded = genomeExpander()(compacted)!;
    expect(expanded.spec.genome).toEqual(object.spec.genome);
    expect(expanded.spec.rollout).toBe('Manual');
    const verdict = verify(expanded.spec.genome, trust);
    expect(verdict.ok).toBe(true);
    expect(verdict).toEqual(verify(object.spec.genome, trust));
  });

  it('round-trips any JSON value to the same canonical bytes and the same published text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown; // as the informer has it
        const back = genomeExpander()(compact(genomeResource(parsed)))!.spec.genome;
        expect(JSON.stringify(back, null, 2)).toBe(JSON.stringify(parsed, null, 2));
        if (parsed !== null && typeof parsed === 'object')
          expect(canonicalBytes(back as object)).toEqual(canonicalBytes(parsed));
      }),
      { numRuns: 500 },
    );
    const proto = JSON.parse('{"__proto__": {"x": 1}, "a": [1, "\\u2028"]}') as unknown;
    const back = genomeExpander()(compact(genomeResource(proto)))!;
    expect(Object.keys(back.spec.genome as object)).toEqual(['__proto__', 'a']);
    expect(back.spec.genome).toEqual(proto);
  });

  it('leaves a Genome without a genome without one, and parses a cached object once', () => {
    const empty = compact(genomeResource(undefined));
    expect(empty.spec).toEqual({ rollout: 'Manual' });
    const expand = genomeExpander(2);
    expect(expand(empty)!.spec.genome).toBeUndefined();
    const a = compact(genomeResource({ a: 1 }));
    expect(expand(a)).toBe(expand(a));
    expect(expand(undefined)).toBeUndefined();
  });
});

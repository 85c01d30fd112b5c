import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GenomeResource } from '../core/api.ts';
import { canonicalBytes } from '../core/canonical.ts';
import { verify } from '../core/verify.ts';
import { parseTrustFile } from '../core/trust.ts';
import { GenomeTexts, genomeTextDigest, type CompactGenome } from './genome-texts.ts';

const INTEROP = join(import.meta.dirname, '..', 'test', 'vectors', 'interop');
const KEY = 'ns/g';

function genomeResource(genome: unknown, resourceVersion = '1'): GenomeResource {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: {
      name: 'g',
      namespace: 'ns',
      uid: 'u',
      resourceVersion,
      managedFields: [{ manager: 'm' }],
    },
    spec: { genome, rollout: 'Manual' },
  } as GenomeResource;
}

/** GenomeTexts.compact as the operator's informer applies it, typed for these tests. */
const compactWith =
  (texts: GenomeTexts) =>
  (g: GenomeResource, previous?: CompactGenome): CompactGenome =>
    texts.compact(
      g as unknown as KubernetesObject,
      previous as unknown as KubernetesObject | undefined,
    ) as unknown as CompactGenome;

/** A read of the API server that must not happen. */
const noRead = () => Promise.reject(new Error('read the API server'));

/** ensure() for a Genome whose text is held (no read), as a GenomeResource. */
async function expanded(texts: GenomeTexts, compact: CompactGenome): Promise<GenomeResource> {
  const genome = await texts.ensure(compact, noRead);
  if (genome === undefined || genome === 'changed') throw new Error(`ensure: ${genome}`);
  return genome;
}

describe('GenomeTexts (the operator holds a genome text only while a reconcile needs it)', () => {
  it('keeps the digest in the cache and gives back the same genome, which verifies the same', async () => {
    const text = readFileSync(join(INTEROP, 'upstream-test-genome.json'), 'utf8');
    const set = parseTrustFile(
      readFileSync(join(INTEROP, 'upstream-test-genome.trust.json'), 'utf8'),
      'interop',
    );
    if (!('keys' in set)) throw new Error(set.message);
    const texts = new GenomeTexts();
    const object = genomeResource(JSON.parse(text));
    const compacted = compactWith(texts)(object);
    expect(compacted.spec).toEqual({
      rollout: 'Manual',
      genomeDigest: genomeTextDigest(JSON.stringify(JSON.parse(text))),
    });
    expect((compacted.metadata as Record<string, unknown>).managedFields).toBeUndefined();
    expect(texts.heldCount()).toBe(1);
    const back = await expanded(texts, compacted);
    expect(back.spec.genome).toEqual(object.spec.genome);
    expect(back.spec.rollout).toBe('Manual');
    const verdict = verify(back.spec.genome, set.keys);
    expect(verdict.ok).toBe(true);
    expect(verdict).toEqual(verify(object.spec.genome, set.keys));
  });

  it('lets the text go when its Genome converges, and reads it again when it is needed', async () => {
    const texts = new GenomeTexts();
    const compact = compactWith(texts);
    const genome = { name: 'g', items: ['a', 'b'] };
    const first = compact(genomeResource(genome, '1'));
    texts.settle(KEY, first.spec.genomeDigest);
    expect(texts.heldCount()).toBe(0);
    // A status update brings the same genome again: it is not held.
    const statusUpdate = compact(genomeResource(genome, '2'), first);
    expect(texts.heldCount()).toBe(0);
    expect(statusUpdate.spec.genomeDigest).toBe(first.spec.genomeDigest);
    // A reconcile then reads it from the API server, and holds it until the next convergence.
    let reads = 0;
    const read = () => {
      reads += 1;
      return Promise.resolve(genomeResource(genome, '2'));
    };
    const again = await texts.ensure(statusUpdate, read);
    expect(again !== 'changed' && again?.spec.genome).toEqual(genome);
    expect(await expanded(texts, statusUpdate)).toEqual(again);
    expect(reads).toBe(1);
    texts.settle(KEY, statusUpdate.spec.genomeDigest);
    expect(texts.heldCount()).toBe(0);
    // An edit of the genome is held whatever converged before.
    const edited = compact(genomeResource({ ...genome, version: '2' }, '3'), statusUpdate);
    expect(texts.heldCount()).toBe(1);
    expect((await expanded(texts, edited)).spec.genome).toEqual({ ...genome, version: '2' });
  });

  it('says changed when the API server has another genome than the cache, or none', async () => {
    const texts = new GenomeTexts();
    const compact = compactWith(texts);
    const cached = compact(genomeResource({ a: 1 }));
    texts.settle(KEY, cached.spec.genomeDigest);
    const newer = () => Promise.resolve(genomeResource({ a: 2 }, '5'));
    expect(await texts.ensure(cached, newer)).toBe('changed');
    expect(await texts.ensure(cached, () => Promise.resolve(undefined))).toBe('changed');
    const replaced = genomeResource({ a: 1 }, '6');
    replaced.metadata.uid = 'another';
    expect(await texts.ensure(cached, () => Promise.resolve(replaced))).toBe('changed');
    expect(texts.heldCount()).toBe(0);
    expect(await texts.ensure(undefined, noRead)).toBeUndefined();
  });

  it('does not hold the text of an object a relist brings again unchanged', () => {
    const texts = new GenomeTexts();
    const compact = compactWith(texts);
    const first = compact(genomeResource({ a: 1 }, '7'));
    expect(texts.heldCount()).toBe(1);
    texts.forget(KEY); // nothing held, nothing settled
    compact(genomeResource({ a: 1 }, '7'), first);
    expect(texts.heldCount()).toBe(0);
    texts.forget(KEY);
    compact(genomeResource({ a: 1 }, '8'), first);
    expect(texts.heldCount()).toBe(1);
    texts.forget(KEY);
    expect(texts.heldCount()).toBe(0);
  });

  it('round-trips any JSON value to the same canonical bytes and the same published text', async () => {
    const back = async (value: unknown) =>
      (await expanded(new GenomeTexts(), compactWith(new GenomeTexts())(genomeResource(value))))
        .spec.genome;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown; // as the informer has it
        const texts = new GenomeTexts();
        const result = (await expanded(texts, compactWith(texts)(genomeResource(parsed)))).spec
          .genome;
        expect(JSON.stringify(result, null, 2)).toBe(JSON.stringify(parsed, null, 2));
        if (parsed !== null && typeof parsed === 'object')
          expect(canonicalBytes(result as object)).toEqual(canonicalBytes(parsed));
      }),
      { numRuns: 500 },
    );
    const proto = JSON.parse('{"__proto__": {"x": 1}, "a": [1, "\\u2028"]}') as unknown;
    const texts = new GenomeTexts();
    const result = await expanded(texts, compactWith(texts)(genomeResource(proto)));
    expect(Object.keys(result.spec.genome as object)).toEqual(['__proto__', 'a']);
    expect(result.spec.genome).toEqual(proto);
    // A text held by another GenomeTexts is not this one's: it reads the API server.
    await expect(back({ a: 1 })).rejects.toThrow('read the API server');
  });

  it('leaves a Genome without a genome without one', async () => {
    const texts = new GenomeTexts();
    const empty = compactWith(texts)(genomeResource(undefined));
    expect(empty.spec).toEqual({ rollout: 'Manual' });
    expect((await expanded(texts, empty)).spec.genome).toBeUndefined();
    expect(texts.heldCount()).toBe(0);
  });

  it('holds nothing while not holding (a standby), and lets every text go when it stops', async () => {
    const texts = new GenomeTexts({ holding: false });
    const compact = compactWith(texts);
    const standby = compact(genomeResource({ a: 1 }, '1'));
    expect(texts.heldCount()).toBe(0);
    // Leading now: the text is read back, and held.
    texts.setHolding(true);
    const read = () => Promise.resolve(genomeResource({ a: 1 }, '1'));
    const genome = await texts.ensure(standby, read);
    expect(genome !== 'changed' && genome?.spec.genome).toEqual({ a: 1 });
    expect(texts.heldCount()).toBe(1);
    compact(genomeResource({ b: 2 }, '2'), standby);
    expect(texts.heldCount()).toBe(1);
    texts.setHolding(false);
    expect(texts.heldCount()).toBe(0);
    compact(genomeResource({ c: 3 }, '3'), standby);
    expect(texts.heldCount()).toBe(0);
  });
});

describe('GenomeTexts with hostile genomes', () => {
  const nested = (depth: number): unknown => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < depth; i++) deep = { d: deep };
    return deep;
  };

  it('compacts a genome nested 10,000 levels deep without throwing, and gives back one validation refuses', async () => {
    const texts = new GenomeTexts();
    const compact = compactWith(texts)(
      genomeResource({ schema_version: 'genome.v0.1', x: nested(10_000) }),
    );
    expect(compact.spec.genomeDigest).toBeDefined();
    const back = await texts.ensure(compact, noRead);
    expect(back).not.toBe('changed');
    const genome = (back as GenomeResource).spec.genome;
    expect(verify(genome, [])).toMatchObject({ ok: false, code: 'GENOME_INVALID_SCHEMA' });
  });

  it('reads back a deep genome from the API server without throwing', async () => {
    const texts = new GenomeTexts({ holding: false });
    const deep = genomeResource({ x: nested(10_000) });
    const compact = compactWith(texts)(deep);
    const back = await texts.ensure(compact, () => Promise.resolve(deep));
    expect(back).not.toBe('changed');
    expect(verify((back as GenomeResource).spec.genome, [])).toMatchObject({ ok: false });
  });
});

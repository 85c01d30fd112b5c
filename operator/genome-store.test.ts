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
  GenomeStore,
  genomeTextDigest,
  type CompactGenome,
  type GenomeCache,
  type GenomeStoreOptions,
} from './genome-store.ts';

const INTEROP = join(import.meta.dirname, '..', 'test', 'vectors', 'interop');

function genomeResource(genome: unknown, resourceVersion = '1', name = 'g'): GenomeResource {
  return {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: {
      name,
      namespace: 'ns',
      uid: `u-${name}`,
      resourceVersion,
      managedFields: [{ manager: 'm' }],
    },
    spec: { genome, rollout: 'Manual' },
  } as GenomeResource;
}

/** The Genome cache as kube/informer.ts keeps it: the transform, then the cache, then events. */
class FakeInformer implements GenomeCache {
  readonly objects = new Map<string, CompactGenome>();
  private readonly handlers: ((e: { type: string; object: CompactGenome }) => void)[] = [];
  constructor(private readonly transform: (o: KubernetesObject, p?: KubernetesObject) => unknown) {}
  get(key: string) {
    return this.objects.get(key);
  }
  onChange(handler: (e: { type: string; object: CompactGenome }) => void) {
    this.handlers.push(handler);
  }
  /** A watch event (or a list item) of `object`. */
  deliver(object: GenomeResource): CompactGenome {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const previous = this.objects.get(key);
    const compact = this.transform(
      object as unknown as KubernetesObject,
      previous as unknown as KubernetesObject | undefined,
    ) as CompactGenome;
    if (previous?.metadata.resourceVersion === compact.metadata.resourceVersion) return compact;
    this.objects.set(key, compact);
    for (const h of this.handlers) h({ type: previous ? 'update' : 'add', object: compact });
    return compact;
  }
  delete(key: string) {
    const object = this.objects.get(key)!;
    this.objects.delete(key);
    for (const h of this.handlers) h({ type: 'delete', object });
  }
}

/** A read of the API server that must not happen. */
const noRead = () => Promise.reject(new Error('read the API server'));

/** A store on a fake informer, with a clock the test moves. */
function storeWith(options: Partial<GenomeStoreOptions<FakeInformer>> = {}) {
  const clock = { now: 0 };
  const store = new GenomeStore({
    start: (transform) => new FakeInformer(transform),
    read: noRead,
    now: () => clock.now,
    ...options,
  });
  store.stop();
  return { store, informer: store.cache, clock };
}

/** get() of a Genome whose text is held (no read). */
async function held(store: GenomeStore, key = 'ns/g'): Promise<GenomeResource> {
  const genome = await store.get(key);
  if (genome === undefined) throw new Error('not cached');
  return genome;
}

describe('GenomeStore (the genome texts held apart from the Genome cache)', () => {
  it('keeps the digest in the cache and gives back the same genome, which verifies the same', async () => {
    const text = readFileSync(join(INTEROP, 'upstream-test-genome.json'), 'utf8');
    const set = parseTrustFile(
      readFileSync(join(INTEROP, 'upstream-test-genome.trust.json'), 'utf8'),
      'interop',
    );
    if (!('keys' in set)) throw new Error(set.message);
    const { store, informer } = storeWith();
    const object = genomeResource(JSON.parse(text));
    const compacted = informer.deliver(object);
    expect(store.cached('ns/g')).toBe(compacted);
    expect(compacted.spec).toEqual({
      rollout: 'Manual',
      genomeDigest: genomeTextDigest(JSON.stringify(JSON.parse(text))),
    });
    expect((compacted.metadata as Record<string, unknown>).managedFields).toBeUndefined();
    expect(store.stats()).toMatchObject({
      texts: 1,
      bytes: JSON.stringify(object.spec.genome).length,
    });
    const back = await held(store);
    expect(back.spec.genome).toEqual(object.spec.genome);
    expect(back.spec.rollout).toBe('Manual');
    const verdict = verify(back.spec.genome, set.keys);
    expect(verdict.ok).toBe(true);
    expect(verdict).toEqual(verify(object.spec.genome, set.keys));
  });

  it('lets a text go once idle, and reads it back, at least as new as the cache, when needed', async () => {
    const reads: (string | undefined)[] = [];
    const genome = { name: 'g', items: ['a', 'b'] };
    const { store, informer, clock } = storeWith({
      idleMs: 10_000,
      read: (_ns, _name, resourceVersion) => {
        reads.push(resourceVersion);
        return Promise.resolve(genomeResource(genome, '2'));
      },
    });
    informer.deliver(genomeResource(genome, '1'));
    await held(store);
    clock.now = 9_999;
    store.sweep();
    expect(store.stats().texts).toBe(1);
    // Used again: idle from now on.
    await held(store);
    clock.now = 19_999;
    store.sweep();
    expect(store.stats().texts).toBe(0);
    // A status update brings the same genome again: held, for the reconcile it starts.
    informer.deliver(genomeResource(genome, '2'));
    expect(store.stats().texts).toBe(1);
    clock.now = 30_000;
    store.sweep();
    expect((await store.get('ns/g'))?.spec.genome).toEqual(genome);
    expect(reads).toEqual(['2']);
    // The text read back is held: the next reconcile reads nothing.
    expect((await held(store)).spec.genome).toEqual(genome);
    expect(store.stats()).toMatchObject({ texts: 1, reads: 1 });
  });

  it('lets idle texts go on its own timer', async () => {
    const store = new GenomeStore({ start: (t) => new FakeInformer(t), read: noRead, idleMs: 20 });
    try {
      store.cache.deliver(genomeResource({ a: 1 }));
      expect(store.stats().texts).toBe(1);
      await expect.poll(() => store.stats(), { interval: 5 }).toMatchObject({ texts: 0, bytes: 0 });
    } finally {
      store.stop();
    }
  });

  it("gives the API server's Genome when it is newer than the cache, and none when it is gone", async () => {
    let answer: GenomeResource | undefined = genomeResource({ a: 2 }, '5');
    const { store, informer } = storeWith({ read: () => Promise.resolve(structuredClone(answer)) });
    informer.deliver(genomeResource({ a: 1 }, '4'));
    store.setHolding(false);
    store.setHolding(true);
    // Edited: the watch event is on its way.
    const newer = await store.get('ns/g');
    expect(newer?.spec.genome).toEqual({ a: 2 });
    expect(newer?.metadata.resourceVersion).toBe('5');
    expect((newer?.metadata as Record<string, unknown>).managedFields).toBeUndefined();
    expect(store.stats().texts).toBe(0); // not the cached genome: its event will bring it
    // Deleted and created again under the same name.
    answer = { ...genomeResource({ a: 1 }, '6'), metadata: { name: 'g', uid: 'another' } };
    expect((await store.get('ns/g'))?.metadata.uid).toBe('another');
    expect(store.stats().texts).toBe(0);
    // Deleted: the delete event is on its way.
    answer = undefined;
    expect(await store.get('ns/g')).toBeUndefined();
    expect(await store.get('ns/not-cached')).toBeUndefined();
    // A read that fails throws: the reconcile is retried.
    const failing = storeWith({ read: () => Promise.reject(new Error('503')) });
    failing.informer.deliver(genomeResource({ a: 1 }));
    failing.store.setHolding(false);
    await expect(failing.store.get('ns/g')).rejects.toThrow('503');
  });

  it('does not hold the text of an object a relist brings again unchanged', () => {
    const { store, informer } = storeWith();
    informer.deliver(genomeResource({ a: 1 }, '7'));
    expect(store.stats().texts).toBe(1);
    store.forget('ns/g');
    informer.deliver(genomeResource({ a: 1 }, '7'));
    expect(store.stats().texts).toBe(0);
    informer.deliver(genomeResource({ a: 1 }, '8'));
    expect(store.stats().texts).toBe(1);
    informer.delete('ns/g');
    expect(store.stats()).toMatchObject({ texts: 0, bytes: 0 });
  });

  it('holds texts within its budget: the least recently used go first, a pending one never for another', async () => {
    const text = (n: number) => ({ x: 'y'.repeat(n) }); // JSON: n + 8 characters
    const { store, informer } = storeWith({ budget: 300 });
    informer.deliver(genomeResource(text(92), '1', 'a'));
    informer.deliver(genomeResource(text(92), '1', 'b'));
    informer.deliver(genomeResource(text(92), '1', 'c'));
    expect(store.stats()).toMatchObject({ texts: 3, bytes: 300 });
    // Full of pending texts: a fourth is not held (its reconcile will read it back).
    informer.deliver(genomeResource(text(92), '1', 'd'));
    expect(store.stats()).toMatchObject({ texts: 3, bytes: 300 });
    // b and a used (a last): b is the least recently used, and goes for e.
    await held(store, 'ns/b');
    await held(store, 'ns/a');
    informer.deliver(genomeResource(text(92), '1', 'e'));
    expect(store.stats()).toMatchObject({ texts: 3, bytes: 300 });
    await expect(store.get('ns/b')).rejects.toThrow('read the API server');
    expect((await held(store, 'ns/a')).spec.genome).toEqual(text(92));
    expect((await held(store, 'ns/e')).spec.genome).toEqual(text(92));
    // A text larger than the budget is never held; a's older one is of no more use.
    informer.deliver(genomeResource(text(400), '2', 'a'));
    expect(store.stats()).toMatchObject({ texts: 1, bytes: 100 });
  });

  it('round-trips any JSON value to the same canonical bytes and the same published text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown; // as the informer has it
        const { store, informer } = storeWith();
        informer.deliver(genomeResource(parsed));
        const result = (await held(store)).spec.genome;
        expect(JSON.stringify(result, null, 2)).toBe(JSON.stringify(parsed, null, 2));
        if (parsed !== null && typeof parsed === 'object')
          expect(canonicalBytes(result as object)).toEqual(canonicalBytes(parsed));
      }),
      { numRuns: 500 },
    );
    const proto = JSON.parse('{"__proto__": {"x": 1}, "a": [1, "\\u2028"]}') as unknown;
    const { store, informer } = storeWith();
    informer.deliver(genomeResource(proto));
    const result = await held(store);
    expect(Object.keys(result.spec.genome as object)).toEqual(['__proto__', 'a']);
    expect(result.spec.genome).toEqual(proto);
  });

  it('leaves a Genome without a genome without one', async () => {
    const { store, informer } = storeWith();
    const empty = informer.deliver(genomeResource(undefined));
    expect(empty.spec).toEqual({ rollout: 'Manual' });
    expect((await held(store)).spec.genome).toBeUndefined();
    expect(store.stats().texts).toBe(0);
  });

  it('holds nothing while not holding (a standby), and lets every text go when it stops', async () => {
    const read = () => Promise.resolve(genomeResource({ a: 1 }, '1'));
    const { store, informer } = storeWith({ holding: false, read });
    informer.deliver(genomeResource({ a: 1 }, '1'));
    expect(store.stats().texts).toBe(0);
    // Leading now: the text is read back, and held.
    store.setHolding(true);
    expect((await store.get('ns/g'))?.spec.genome).toEqual({ a: 1 });
    expect(store.stats()).toMatchObject({ texts: 1, reads: 1 });
    informer.deliver(genomeResource({ b: 2 }, '2'));
    expect(store.stats().texts).toBe(1);
    store.setHolding(false);
    expect(store.stats()).toMatchObject({ texts: 0, bytes: 0 });
    informer.deliver(genomeResource({ c: 3 }, '3'));
    expect(store.stats().texts).toBe(0);
  });
});

describe('GenomeStore with hostile genomes', () => {
  const nested = (depth: number): unknown => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < depth; i++) deep = { d: deep };
    return deep;
  };

  it('compacts a genome nested 10,000 levels deep without throwing, and gives back one validation refuses', async () => {
    const { store, informer } = storeWith();
    const compact = informer.deliver(
      genomeResource({ schema_version: 'genome.v0.1', x: nested(10_000) }),
    );
    expect(compact.spec.genomeDigest).toBeDefined();
    const genome = (await held(store)).spec.genome;
    expect(verify(genome, [])).toMatchObject({ ok: false, code: 'GENOME_INVALID_SCHEMA' });
  });

  it('reads back a deep genome from the API server without throwing', async () => {
    const deep = genomeResource({ x: nested(10_000) });
    const { store, informer } = storeWith({ holding: false, read: () => Promise.resolve(deep) });
    informer.deliver(deep);
    const back = await store.get('ns/g');
    expect(verify(back?.spec.genome, [])).toMatchObject({ ok: false });
  });
});

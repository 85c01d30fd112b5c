import { describe, expect, it } from 'vitest';
import { configMapView, genomeView } from './publication.ts';
import { declaring, genome, keyPair, publishedGenome, withFields } from '../test/builders/index.ts';

const signer = keyPair('k-1');
const PUBLISHED = publishedGenome({
  name: 'totk',
  namespace: 'apps',
  genome: genome(declaring(signer)),
});

/** 250 KiB of annotations and 60 labels of 63 characters, as a tenant may write on any object. */
function bloated<T extends { metadata: object }>(object: T): T {
  const annotations = Object.fromEntries(
    Array.from({ length: 250 }, (_, i) => [`tenant.example/a${i}`, 'x'.repeat(1000)]),
  );
  const labels = Object.fromEntries(
    Array.from({ length: 60 }, (_, i) => [`tenant.example/l${i}`, 'y'.repeat(63)]),
  );
  const managedFields = [
    { manager: 'kubectl', fieldsV1: { 'f:spec': { big: 'z'.repeat(50_000) } } },
  ];
  return { ...object, metadata: { ...object.metadata, annotations, labels, managedFields } };
}

const size = (value: unknown) => JSON.stringify(value).length;

describe('genomeView: what the pod webhook caches of a Genome', () => {
  it('keeps a Genome with 250 KiB of annotations and labels in under 600 characters', () => {
    const input = bloated(PUBLISHED.genome);
    expect(size(input)).toBeGreaterThan(250 * 1024);
    const view = genomeView(input);
    expect(size(view)).toBeLessThan(600);
    expect(view).toEqual({
      metadata: {
        name: 'totk',
        namespace: 'apps',
        uid: PUBLISHED.genome.metadata.uid,
        resourceVersion: '1234',
        generation: 1,
      },
      specGenomeId: PUBLISHED.genomeId,
      status: {
        observedGeneration: 1,
        genomeId: PUBLISHED.genomeId,
        configMapName: PUBLISHED.configMapName,
        conditions: [
          {
            type: 'Verified',
            status: 'True',
            reason: 'Verified',
            message: 'verified by TEST-ONLY-totk-key-001',
          },
        ],
      },
    });
  });

  it('clips what a status writer controls: long ids, names, reasons and messages, many conditions', () => {
    const status = {
      genomeId: 'a'.repeat(300_000),
      configMapName: 'b'.repeat(300_000),
      conditions: [
        ...Array.from({ length: 1000 }, (_, i) => ({ type: `T${i}`, message: 'm'.repeat(1000) })),
        { type: 'Verified', status: 'True', reason: 'r'.repeat(100_000), message: 'm'.repeat(1e6) },
      ],
    };
    const view = genomeView({ ...PUBLISHED.genome, status });
    // Three fields clipped at 253 characters, a reason too, and the message at 1,024.
    expect(size(view)).toBeLessThan(2500);
    expect(view.status?.conditions).toHaveLength(1);
  });

  it('never throws on a hostile object, and computes no id it cannot', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i += 1) deep = { a: deep };
    const hostile: unknown[] = [
      null,
      42,
      'text',
      [],
      { metadata: 'nope', spec: [], status: 7 },
      { ...PUBLISHED.genome, spec: { genome: deep } },
      { ...PUBLISHED.genome, spec: { genome: 'not an object' } },
      { metadata: { name: 5, generation: 'one' }, status: { conditions: 'no' } },
    ];
    for (const object of hostile) expect(() => genomeView(object)).not.toThrow();
    expect(genomeView({ ...PUBLISHED.genome, spec: { genome: deep } }).specGenomeId).toBe(
      undefined,
    );
  });

  it('hashes spec.genome again only when the generation or uid changes', () => {
    const first = genomeView(PUBLISHED.genome);
    // A status write: same generation. The spec below would give another id, were it hashed.
    const statusWrite = { ...PUBLISHED.genome, spec: { genome: { other: true } } };
    expect(genomeView(statusWrite, first).specGenomeId).toBe(PUBLISHED.genomeId);
    const newGeneration = {
      ...statusWrite,
      metadata: { ...statusWrite.metadata, generation: 2 },
    };
    expect(genomeView(newGeneration, first).specGenomeId).not.toBe(PUBLISHED.genomeId);
    const recreated = { ...statusWrite, metadata: { ...statusWrite.metadata, uid: 'other' } };
    expect(genomeView(recreated, first).specGenomeId).not.toBe(PUBLISHED.genomeId);
  });
});

describe('configMapView: what the pod webhook caches of a published ConfigMap', () => {
  it('keeps a ConfigMap with 250 KiB of annotations and labels and a large genome in under 400 characters', () => {
    const big = publishedGenome({
      name: 'big',
      namespace: 'apps',
      genome: genome(
        declaring(signer),
        withFields({
          build_manifest: {
            files: Array.from({ length: 5000 }, (_, i) => ({
              path: `f-${i}.ts`,
              sha256: 'a'.repeat(64),
            })),
          },
        }),
      ),
    });
    const input = bloated(big.configMap);
    expect(size(input)).toBeGreaterThan(700 * 1024);
    const view = configMapView(input);
    expect(size(view)).toBeLessThan(400);
    expect(view).toEqual({
      metadata: { name: big.configMapName, namespace: 'apps' },
      controller: {
        apiVersion: 'mathison.io/v1alpha1',
        kind: 'Genome',
        uid: big.genome.metadata.uid,
      },
      immutable: true,
      genomeId: big.genomeId,
    });
  });

  it('reads no genome a Genome could not have published (mutable, or not controlled by a Genome), and none twice for one immutable ConfigMap', () => {
    const one = publishedGenome({
      name: 'one',
      namespace: 'apps',
      genome: genome(declaring(signer)),
    });
    const cm = one.configMap as { immutable?: boolean; metadata: Record<string, unknown> };
    expect(configMapView({ ...cm, immutable: false }).genomeId).toBeUndefined();
    expect(
      configMapView({ ...cm, metadata: { ...cm.metadata, ownerReferences: [] } }).genomeId,
    ).toBeUndefined();
    const first = configMapView({ ...cm, metadata: { ...cm.metadata, uid: 'u1' } });
    expect(first.genomeId).toBe(one.genomeId);
    // A relist brings the same immutable object again: its id is not computed again.
    const again = configMapView(
      { ...cm, metadata: { ...cm.metadata, uid: 'u1' }, data: { 'genome.json': 'not read' } },
      first,
    );
    expect(again.genomeId).toBe(one.genomeId);
  });

  it('never throws on a hostile object, and keeps no id for data that is not a valid genome', () => {
    const hostile: unknown[] = [
      null,
      [],
      { metadata: { ownerReferences: 'x' }, data: 'y' },
      {
        metadata: { ownerReferences: [null, 1, { controller: true, uid: 7 }] },
        data: { 'genome.json': 5 },
      },
      { metadata: {}, data: { 'genome.json': '['.repeat(100_000) } },
      { metadata: {}, data: { 'genome.json': '{"a":1,"a":2}' } },
    ];
    for (const object of hostile) {
      expect(() => configMapView(object)).not.toThrow();
      expect(configMapView(object).genomeId).toBeUndefined();
    }
  });
});

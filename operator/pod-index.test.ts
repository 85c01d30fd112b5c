import { describe, expect, it } from 'vitest';
import { PodIndex } from './pod-index.ts';

const pod = (name: string, genome?: string, namespace = 'apps') => ({
  metadata: {
    name,
    namespace,
    ...(genome !== undefined && { labels: { 'genome.mathison.io/genome': genome } }),
  },
});

describe('PodIndex', () => {
  it('indexes pods by the Genome they name, per namespace', () => {
    const index = new PodIndex();
    expect(index.observe({ type: 'add', object: pod('a', 'totk') })).toEqual(['apps/totk']);
    index.observe({ type: 'add', object: pod('b', 'totk') });
    index.observe({ type: 'add', object: pod('c', 'totk', 'other') });
    expect(index.podsOf('apps/totk').map((p) => p.metadata?.name)).toEqual(['a', 'b']);
    expect(index.podsOf('other/totk').map((p) => p.metadata?.name)).toEqual(['c']);
  });

  it('moves a relabelled pod and reports both Genomes; forgets a deleted one', () => {
    const index = new PodIndex();
    index.observe({ type: 'add', object: pod('a', 'totk') });
    expect(index.observe({ type: 'update', object: pod('a', 'next') })).toEqual([
      'apps/totk',
      'apps/next',
    ]);
    expect(index.podsOf('apps/totk')).toEqual([]);
    expect(index.observe({ type: 'update', object: pod('a') })).toEqual(['apps/next']);
    expect(index.podsOf('apps/next')).toEqual([]);
    index.observe({ type: 'add', object: pod('b', 'totk') });
    expect(index.observe({ type: 'delete', object: pod('b', 'totk') })).toEqual(['apps/totk']);
    expect(index.podsOf('apps/totk')).toEqual([]);
  });

  it("reports no Genome for a change of the pod conditions alone (the gates' own writes)", () => {
    const index = new PodIndex();
    const gated = (status: string, resourceVersion: string) => ({
      ...pod('a', 'totk'),
      metadata: { ...pod('a', 'totk').metadata, resourceVersion },
      status: { phase: 'Running', conditions: [{ type: 'genome.mathison.io/verified', status }] },
    });
    index.observe({ type: 'add', object: gated('True', '1') });
    expect(index.observe({ type: 'update', object: gated('False', '2') })).toEqual([]);
    expect(index.podsOf('apps/totk')[0]?.status?.conditions?.[0]?.status).toBe('False');
    const finished = { ...gated('False', '3'), status: { phase: 'Succeeded' } };
    expect(index.observe({ type: 'update', object: finished })).toEqual(['apps/totk']);
  });
});

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
});

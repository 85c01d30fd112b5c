import { describe, expect, it } from 'vitest';
import { OwnedConfigMaps, type CachedConfigMap } from './owned-config-maps.ts';

const cm = (name: string, uid: string, owner = 'g1'): CachedConfigMap => ({
  metadata: { name, namespace: 'apps', uid, labels: { 'genome.mathison.io/genome-uid': owner } },
  immutable: true,
  data: {},
});
const names = (owned: OwnedConfigMaps, uid = 'g1') =>
  owned.ownedBy(uid).map((c) => c.metadata?.name);

describe('OwnedConfigMaps', () => {
  it('indexes the cache by owner uid', () => {
    const owned = new OwnedConfigMaps();
    owned.observe({ type: 'add', object: cm('a', 'u1') });
    owned.observe({ type: 'add', object: cm('b', 'u2', 'g2') });
    expect(names(owned)).toEqual(['a']);
    owned.observe({ type: 'delete', object: cm('a', 'u1') });
    expect(names(owned)).toEqual([]);
  });

  it('shows an applied ConfigMap until the cache has a word on it', () => {
    const owned = new OwnedConfigMaps();
    owned.noteApplied('g1', cm('a', 'u1'));
    expect(names(owned)).toEqual(['a']);
    owned.observe({ type: 'add', object: cm('a', 'u1') });
    owned.observe({ type: 'delete', object: cm('a', 'u1') });
    expect(names(owned)).toEqual([]);
  });
});

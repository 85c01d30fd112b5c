import { describe, expect, it } from 'vitest';
import { OwnedConfigMaps } from './owned-config-maps.ts';
import type { CachedConfigMap } from './cached.ts';

const cm = (
  name: string,
  uid: string,
  owner = 'g1',
  { namespace = 'apps', controller = owner }: { namespace?: string; controller?: string } = {},
): CachedConfigMap => ({
  metadata: {
    name,
    namespace,
    uid,
    labels: { 'genome.mathison.io/genome-uid': owner },
    ownerReferences: [{ uid: controller, controller: true }],
  },
  immutable: true,
  dataDigest: 'digest',
});
const names = (owned: OwnedConfigMaps, uid = 'g1', namespace = 'apps') =>
  owned.ownedBy(uid, namespace).map((c) => c.metadata?.name);

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

  it('keeps a ConfigMap applied again under the same name when the delete of the one before lands', () => {
    const owned = new OwnedConfigMaps();
    owned.observe({ type: 'add', object: cm('a', 'u1') });
    // Replaced: deleted, then applied with other content (a new uid).
    owned.noteDeleted('g1', 'apps', 'a', 'u1');
    owned.noteApplied('g1', cm('a', 'u2'));
    expect(owned.observe({ type: 'delete', object: cm('a', 'u1') })).toBe(true); // our own
    expect(owned.ownedBy('g1', 'apps').map((c) => c.metadata?.uid)).toEqual(['u2']);
    expect(owned.observe({ type: 'add', object: cm('a', 'u2') })).toBe(true);
    expect(owned.ownedBy('g1', 'apps').map((c) => c.metadata?.uid)).toEqual(['u2']);
  });

  it('takes a copied label for nothing: no controller reference to the same uid, or another namespace', () => {
    const owned = new OwnedConfigMaps();
    owned.observe({ type: 'add', object: cm('label-only', 'u1', 'g1', { controller: 'other' }) });
    owned.observe({ type: 'add', object: cm('elsewhere', 'u2', 'g1', { namespace: 'evil' }) });
    owned.observe({ type: 'add', object: cm('real', 'u3') });
    expect(names(owned)).toEqual(['real']);
    expect(names(owned, 'g1', 'evil')).toEqual(['elsewhere']);
  });

  it("follows a change of owner: a ConfigMap taken over by another Genome is no longer the first one's", () => {
    const owned = new OwnedConfigMaps();
    owned.observe({ type: 'add', object: cm('shared', 'u1', 'g1') });
    owned.observe({ type: 'update', object: cm('shared', 'u1', 'g2') });
    expect(names(owned, 'g1')).toEqual([]);
    expect(names(owned, 'g2')).toEqual(['shared']);
    owned.observe({ type: 'delete', object: cm('shared', 'u1', 'g2') });
    expect(names(owned, 'g2')).toEqual([]);
  });

  it('forgets the owner of a ConfigMap whose controller reference is removed', () => {
    const owned = new OwnedConfigMaps();
    owned.observe({ type: 'add', object: cm('orphan', 'u1', 'g1') });
    owned.observe({ type: 'update', object: cm('orphan', 'u1', 'g1', { controller: 'none' }) });
    expect(names(owned, 'g1')).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { makeGenome, makeSigner, signWith, trust } from '../core/test-fixtures.ts';
import { keySetVersion, VerifyCache } from './verify-cache.ts';

const alice = makeSigner('alice');
const bob = makeSigner('bob');
const genome = signWith(makeGenome([alice]), alice);

describe('keySetVersion', () => {
  it('is the same for the same keys in any order', () => {
    expect(keySetVersion(trust(alice, bob))).toBe(keySetVersion(trust(bob, alice)));
  });
  it('changes when a key is removed, added or marked as a test key', () => {
    const base = keySetVersion(trust(alice, bob));
    expect(keySetVersion(trust(alice))).not.toBe(base);
    expect(keySetVersion(trust(alice, bob, makeSigner('carol')))).not.toBe(base);
    expect(keySetVersion(trust({ ...alice, test: true }, bob))).not.toBe(base);
  });
});

describe('VerifyCache', () => {
  it('verifies a genome once per key-set version', () => {
    const cache = new VerifyCache();
    const keys = trust(alice);
    const v = keySetVersion(keys);
    const revision = { uid: 'u', generation: 1 };
    expect(cache.verdict(revision, genome, keys, v)).toMatchObject({
      fresh: true,
      verdict: { ok: true },
    });
    expect(cache.verdict(revision, genome, keys, v)).toMatchObject({
      fresh: false,
      verdict: { ok: true },
    });
    expect(cache.verdict({ uid: 'other', generation: 7 }, genome, keys, v).fresh).toBe(false);
    expect(cache.computed).toBe(1);
  });

  it('verifies again when the keys change, and the new verdict follows the new keys', () => {
    const cache = new VerifyCache();
    const revision = { uid: 'u', generation: 1 };
    cache.verdict(revision, genome, trust(alice), keySetVersion(trust(alice)));
    const after = cache.verdict(revision, genome, trust(bob), keySetVersion(trust(bob)));
    expect(after).toMatchObject({
      fresh: true,
      verdict: { ok: false, code: 'GENOME_UNTRUSTED_SIGNER' },
    });
  });

  it('verifies again when the Genome has a new generation with other content', () => {
    const cache = new VerifyCache();
    const keys = trust(alice);
    const v = keySetVersion(keys);
    cache.verdict({ uid: 'u', generation: 1 }, genome, keys, v);
    const changed = signWith(makeGenome([alice], { version: '2.0.0' }), alice);
    expect(cache.verdict({ uid: 'u', generation: 2 }, changed, keys, v).fresh).toBe(true);
  });

  it('does not cache a genome without an id (schema invalid)', () => {
    const cache = new VerifyCache();
    const keys = trust(alice);
    const bad = { ...genome, extra: true };
    cache.verdict({ uid: 'u', generation: 1 }, bad, keys, 'v');
    expect(cache.verdict({ uid: 'u', generation: 1 }, bad, keys, 'v')).toMatchObject({
      fresh: true,
      verdict: { ok: false, code: 'GENOME_INVALID_SCHEMA' },
    });
  });

  it('keeps no genome in the cache: a hit carries the genome the caller passed now', () => {
    const cache = new VerifyCache();
    const keys = trust(alice);
    const v = keySetVersion(keys);
    const revision = { uid: 'u', generation: 1 };
    const first = cache.verdict(revision, genome, keys, v).verdict;
    expect(first.ok && first.genome).toBe(genome);
    // The informer hands over a new object of the same revision after every status write.
    const copy = structuredClone(genome);
    const hit = cache.verdict(revision, copy, keys, v);
    expect(hit.fresh).toBe(false);
    expect(hit.verdict.ok && hit.verdict.genome).toBe(copy);
    const stored = [
      ...(cache as unknown as { verdicts: Map<string, { genome?: unknown }> }).verdicts.values(),
    ];
    expect(stored.every((verdict) => verdict.genome === undefined)).toBe(true);
  });
});

describe("VerifyCache: a verdict is the Genome's own (signatures included)", () => {
  const keys = trust(alice, bob);
  const v = keySetVersion(keys);
  const good = genome;
  const sig = good.signature!;
  const forged = { ...good, signature: { ...sig, sig_base64: `${'A'.repeat(85)}A==` } };

  it('refuses a copy with a garbage signature even after the good one was verified', () => {
    const cache = new VerifyCache();
    expect(cache.verdict({ uid: 'a', generation: 1 }, good, keys, v).verdict.ok).toBe(true);
    const copy = cache.verdict({ uid: 'b', generation: 1 }, forged, keys, v);
    expect(copy.verdict).toMatchObject({ ok: false, code: 'GENOME_INVALID_SIGNATURE' });
  });

  it('verifies the good Genome even after a copy with a garbage signature was refused', () => {
    const cache = new VerifyCache();
    cache.verdict({ uid: 'b', generation: 1 }, forged, keys, v);
    expect(cache.verdict({ uid: 'a', generation: 1 }, good, keys, v).verdict.ok).toBe(true);
  });

  it('keeps the signers of each copy: another signer set never decides for this one', () => {
    const cache = new VerifyCache();
    const byBob = signWith(makeGenome([alice, bob]), bob);
    const byAlice = signWith(makeGenome([alice, bob]), alice);
    const first = cache.verdict({ uid: 'b', generation: 1 }, byBob, keys, v).verdict;
    const second = cache.verdict({ uid: 'a', generation: 1 }, byAlice, keys, v).verdict;
    expect(first.ok && first.signers).toEqual(['bob']);
    expect(second.ok && second.signers).toEqual(['alice']);
  });

  it('serves a cached verdict for the very same signed document', () => {
    const cache = new VerifyCache();
    cache.verdict({ uid: 'a', generation: 1 }, good, keys, v);
    expect(cache.verdict({ uid: 'b', generation: 1 }, structuredClone(good), keys, v).fresh).toBe(
      false,
    );
  });
});

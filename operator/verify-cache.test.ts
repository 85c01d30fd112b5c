import { describe, expect, it } from 'vitest';
import { declaring, genome, keyPair, signedBy, trusted, version } from '../test/builders/index.ts';
import { DEFAULT_TRUST_POLICY } from '../core/trust-policy.ts';
import type { TrustedKey } from '../core/trust.ts';
import { VerifyCache } from './verify-cache.ts';

/** The keys under the default policy (the flat model), now. */
const inputs = (keys: readonly TrustedKey[]) => ({
  keys,
  policies: [DEFAULT_TRUST_POLICY],
  namespaceLabels: {},
  now: Date.now(),
});

const alice = keyPair('alice');
const bob = keyPair('bob');
const signed = genome(signedBy(alice));

describe('VerifyCache', () => {
  it('verifies a genome once per key-set version', () => {
    const cache = new VerifyCache();
    const keys = trusted(alice);
    const revision = { uid: 'u', generation: 1 };
    expect(cache.verdict(revision, signed, inputs(keys))).toMatchObject({
      fresh: true,
      judged: { verdict: { ok: true } },
    });
    expect(cache.verdict(revision, signed, inputs(keys))).toMatchObject({
      fresh: false,
      judged: { verdict: { ok: true } },
    });
    expect(cache.verdict({ uid: 'other', generation: 7 }, signed, inputs(keys)).fresh).toBe(false);
    expect(cache.computed).toBe(1);
  });

  it('judges again when the keys change, without verifying a signature again', () => {
    const cache = new VerifyCache();
    const revision = { uid: 'u', generation: 1 };
    cache.verdict(revision, signed, inputs(trusted(alice)));
    const after = cache.verdict(revision, signed, inputs(trusted(bob)));
    expect(after).toMatchObject({
      fresh: false,
      judged: { verdict: { ok: false, code: 'GENOME_UNTRUSTED_SIGNER' } },
    });
    expect(cache.verifications).toBe(1);
    expect(cache.verdict(revision, signed, inputs(trusted(alice))).judged.verdict.ok).toBe(true);
    expect(cache.verifications).toBe(1);
  });

  it('verifies again when the Genome has a new generation with other content', () => {
    const cache = new VerifyCache();
    const keys = trusted(alice);
    cache.verdict({ uid: 'u', generation: 1 }, signed, inputs(keys));
    const changed = genome(signedBy(alice), version('2.0.0'));
    expect(cache.verdict({ uid: 'u', generation: 2 }, changed, inputs(keys)).fresh).toBe(true);
  });

  it('does not cache a genome without an id (schema invalid)', () => {
    const cache = new VerifyCache();
    const keys = trusted(alice);
    const bad = { ...genome, extra: true };
    cache.verdict({ uid: 'u', generation: 1 }, bad, inputs(keys));
    expect(cache.verdict({ uid: 'u', generation: 1 }, bad, inputs(keys))).toMatchObject({
      fresh: true,
      judged: { verdict: { ok: false, code: 'GENOME_INVALID_SCHEMA' } },
    });
  });

  it('keeps no genome in the cache: a hit carries the genome the caller passed now', () => {
    const cache = new VerifyCache();
    const keys = trusted(alice);
    const revision = { uid: 'u', generation: 1 };
    const first = cache.verdict(revision, signed, inputs(keys)).judged.verdict;
    expect(first.ok && first.genome).toBe(signed);
    // The informer hands over a new object of the same revision after every status write.
    const copy = structuredClone(signed);
    const hit = cache.verdict(revision, copy, inputs(keys));
    expect(hit.fresh).toBe(false);
    expect(hit.judged.verdict.ok && hit.judged.verdict.genome).toBe(copy);
    const stored = [
      ...(
        cache as unknown as { examinations: Map<string, { genome?: unknown }> }
      ).examinations.values(),
    ];
    expect(stored.every((verdict) => verdict.genome === undefined)).toBe(true);
  });
});

describe("VerifyCache: a verdict is the Genome's own (signatures included)", () => {
  const keys = trusted(alice, bob);
  const good = signed;
  const sig = good.signature!;
  const forged = { ...good, signature: { ...sig, sig_base64: `${'A'.repeat(85)}A==` } };

  it('refuses a copy with a garbage signature even after the good one was verified', () => {
    const cache = new VerifyCache();
    expect(cache.verdict({ uid: 'a', generation: 1 }, good, inputs(keys)).judged.verdict.ok).toBe(
      true,
    );
    const copy = cache.verdict({ uid: 'b', generation: 1 }, forged, inputs(keys));
    expect(copy.judged.verdict).toMatchObject({ ok: false, code: 'GENOME_INVALID_SIGNATURE' });
  });

  it('verifies the good Genome even after a copy with a garbage signature was refused', () => {
    const cache = new VerifyCache();
    cache.verdict({ uid: 'b', generation: 1 }, forged, inputs(keys));
    expect(cache.verdict({ uid: 'a', generation: 1 }, good, inputs(keys)).judged.verdict.ok).toBe(
      true,
    );
  });

  it('keeps the signers of each copy: another signer set never decides for this one', () => {
    const cache = new VerifyCache();
    const byBob = genome(declaring(alice, bob), signedBy(bob));
    const byAlice = genome(declaring(alice, bob), signedBy(alice));
    const first = cache.verdict({ uid: 'b', generation: 1 }, byBob, inputs(keys)).judged.verdict;
    const second = cache.verdict({ uid: 'a', generation: 1 }, byAlice, inputs(keys)).judged.verdict;
    expect(first.ok && first.signers).toEqual(['bob']);
    expect(second.ok && second.signers).toEqual(['alice']);
  });

  it('serves a cached verdict for the very same signed document', () => {
    const cache = new VerifyCache();
    cache.verdict({ uid: 'a', generation: 1 }, good, inputs(keys));
    expect(
      cache.verdict({ uid: 'b', generation: 1 }, structuredClone(good), inputs(keys)).fresh,
    ).toBe(false);
  });
});

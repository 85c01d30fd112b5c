import { describe, expect, it } from 'vitest';
import { withSignature } from './sign.ts';
import { makeGenome, makeSigner } from './test-fixtures.ts';

const sig = (keyId: string, value = keyId) => ({
  alg: 'ed25519' as const,
  signer_key_id: keyId,
  sig_base64: value,
});

describe('withSignature', () => {
  const genome = makeGenome([makeSigner('a'), makeSigner('b')]);

  it('puts the first signature in `signature`', () => {
    expect(withSignature(genome, sig('a'))).toMatchObject({ signature: sig('a') });
  });

  it('adds a second signer to `signatures` without dropping the first', () => {
    const twice = withSignature(withSignature(genome, sig('a')), sig('b'));
    expect(twice.signature).toEqual(sig('a'));
    expect(twice.signatures).toEqual([sig('b')]);
  });

  it("replaces only the re-signing signer's own entry", () => {
    const signed = withSignature(withSignature(genome, sig('a')), sig('b'));
    expect(withSignature(signed, sig('b', 'new')).signatures).toEqual([sig('b', 'new')]);
    expect(withSignature(signed, sig('a', 'new'))).toMatchObject({
      signature: sig('a', 'new'),
      signatures: [sig('b')],
    });
  });
});

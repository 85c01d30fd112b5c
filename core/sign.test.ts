import { describe, expect, it } from 'vitest';
import { withSignature } from './sign.ts';
import { declaring, genome, keyPair } from '../test/builders/index.ts';

const sig = (keyId: string, value = keyId) => ({
  alg: 'ed25519' as const,
  signer_key_id: keyId,
  sig_base64: value,
});

describe('withSignature', () => {
  const unsigned = genome(declaring(keyPair('a'), keyPair('b')));

  it('puts the first signature in `signature`', () => {
    expect(withSignature(unsigned, sig('a'))).toMatchObject({ signature: sig('a') });
  });

  it('adds a second signer to `signatures` without dropping the first', () => {
    const twice = withSignature(withSignature(unsigned, sig('a')), sig('b'));
    expect(twice.signature).toEqual(sig('a'));
    expect(twice.signatures).toEqual([sig('b')]);
  });

  it("replaces only the re-signing signer's own entry", () => {
    const signed = withSignature(withSignature(unsigned, sig('a')), sig('b'));
    expect(withSignature(signed, sig('b', 'new')).signatures).toEqual([sig('b', 'new')]);
    expect(withSignature(signed, sig('a', 'new'))).toMatchObject({
      signature: sig('a', 'new'),
      signatures: [sig('b')],
    });
  });

  it('keeps a genome signed only in `signatures` in that form: a new signer is appended', () => {
    const onlyList = { ...unsigned, signatures: [sig('a')] };
    const added = withSignature(onlyList, sig('b'));
    expect(added.signature).toBeUndefined();
    expect(added.signatures).toEqual([sig('a'), sig('b')]);
  });

  it('a signer who signs a `signatures`-only genome again replaces its entry, leaving no stale copy', () => {
    const onlyList = { ...unsigned, signatures: [sig('a'), sig('b')] };
    const again = withSignature(onlyList, sig('a', 'new'));
    expect(again.signature).toBeUndefined();
    expect(again.signatures).toEqual([sig('a', 'new'), sig('b')]);
  });
});

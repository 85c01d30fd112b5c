/**
 * A private key pasted into any field of a genome is never echoed: not in a refusal's message
 * or field, whichever check refuses it (schema or signatures), in any encoding.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { displayValue } from './display.ts';
import type { Genome } from './genome.ts';
import { genome, keyPair, signedBy, trusted } from '../test/builders/index.ts';
import { verify } from './verify.ts';

const alice = keyPair('alice');
const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
const pkcs8 = der.toString('base64');
/** base64url without padding: letters, digits, '-' and '_' only, so it matches a key id's pattern. */
const pkcs8Url = der.toString('base64url');
const hex = der.toString('hex');
const signed = genome(signedBy(alice));

function refusalText(genome: unknown): { code: string; text: string } {
  const verdict = verify(genome, trusted(alice));
  if (verdict.ok) throw new Error('expected a refusal');
  return { code: verdict.code, text: `${verdict.message} ${verdict.field ?? ''}` };
}

const secrets = [pkcs8, pkcs8Url, hex];
const leaks = (text: string) =>
  secrets.some((s) => text.includes(s) || text.includes(s.slice(0, 24)));

describe('key material is never echoed, from any field', () => {
  it.each([
    [
      'signature.sig_base64',
      pkcs8,
      (g: Genome, v: string) => ({ ...g, signature: { ...g.signature!, sig_base64: v } }),
    ],
    [
      'signature.sig_base64 (hex)',
      hex,
      (g: Genome, v: string) => ({ ...g, signature: { ...g.signature!, sig_base64: v } }),
    ],
    [
      'signature.signer_key_id',
      pkcs8Url,
      (g: Genome, v: string) => ({ ...g, signature: { ...g.signature!, signer_key_id: v } }),
    ],
    [
      'signature.signer_key_id (with + or /)',
      pkcs8,
      (g: Genome, v: string) => ({ ...g, signature: { ...g.signature!, signer_key_id: v } }),
    ],
    [
      'authority.signers[0].key_id',
      pkcs8Url,
      (g: Genome, v: string) => ({
        ...g,
        authority: { ...g.authority, signers: [{ ...g.authority.signers[0]!, key_id: v }] },
      }),
    ],
    [
      'signatures[0].sig_base64',
      pkcs8,
      (g: Genome, v: string) => ({ ...g, signatures: [{ ...g.signature!, sig_base64: v }] }),
    ],
    ['name', pkcs8, (g: Genome, v: string) => ({ ...g, name: v, version: 'not semver' })],
    ['version', pkcs8, (g: Genome, v: string) => ({ ...g, version: v })],
    ['created_at', hex, (g: Genome, v: string) => ({ ...g, created_at: v })],
  ])('%s holding a private key: refused, and the key is not in the message', (_, value, put) => {
    const { code, text } = refusalText(put(signed, value));
    expect(code).toMatch(/^(PRIVATE_KEY_EXPOSED|GENOME_INVALID_SCHEMA)$/);
    expect(leaks(text), text).toBe(false);
  });

  it.each([
    ['at the top level', (v: string) => ({ ...signed, [v]: 1 })],
    ['in authority', (v: string) => ({ ...signed, authority: { ...signed.authority, [v]: 1 } })],
  ])('an unknown field whose name is a private key (%s) is refused without it', (_, put) => {
    for (const s of secrets) {
      const { text } = refusalText(put(s));
      expect(leaks(text), text).toBe(false);
    }
  });

  it('a key id that is a private key is refused as PRIVATE_KEY_EXPOSED, not as an unknown signer', () => {
    const genome = { ...signed, signature: { ...signed.signature!, signer_key_id: pkcs8Url } };
    expect(refusalText(genome).code).toBe('PRIVATE_KEY_EXPOSED');
  });

  it('displayValue never shows private key material, and names it by fingerprint', () => {
    for (const s of secrets) {
      const shown = displayValue(s);
      expect(leaks(shown), shown).toBe(false);
      expect(shown).toMatch(/sha256:[0-9a-f]{8}/);
    }
    expect(displayValue('totk-key-001')).toBe('"totk-key-001"');
  });
});

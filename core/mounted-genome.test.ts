import { describe, expect, it } from 'vitest';
import { genomeId } from './canonical.ts';
import { checkMountedGenome } from './mounted-genome.ts';
import { genome, keyPair, signedBy } from '../test/builders/index.ts';

const signer = keyPair('team-key');
const other = keyPair('other-key');
const signed = genome(signedBy(signer));
const id = genomeId(signed);
const trustOf = (...keys: (typeof signer)[]) =>
  JSON.stringify(keys.map((k) => ({ key_id: k.keyId, alg: 'ed25519', public_key: k.publicKey })));
const good = {
  genomeText: JSON.stringify(signed, null, 2),
  trustText: trustOf(signer),
  source: '/etc/mathison/genome',
};

describe('checkMountedGenome', () => {
  it('accepts a genome that verifies against the keys beside it, with or without the admitted id', () => {
    expect(checkMountedGenome(good)).toMatchObject({
      ok: true,
      genomeId: id,
      signers: ['team-key'],
    });
    expect(checkMountedGenome({ ...good, expectedId: id })).toMatchObject({ ok: true });
  });

  const tampered = JSON.stringify({ ...signed, version: '9.9.9' });
  it.each([
    ['no genome file', { genomeText: undefined }, 'GENOME_MISSING'],
    ['no trust file', { trustText: undefined }, 'TRUST_FILE_MISSING'],
    ['a genome that is not JSON', { genomeText: '{"name":' }, 'GENOME_UNREADABLE'],
    ['a changed genome', { genomeText: tampered }, 'GENOME_INVALID_SIGNATURE'],
    ['keys that did not sign it', { trustText: trustOf(other) }, 'GENOME_UNTRUSTED_SIGNER'],
    ['an empty trust list', { trustText: '[]' }, 'TRUST_KEYS_MISSING'],
    [
      'a trust entry that is not a key',
      { trustText: '[{"key_id":"k","alg":"ed25519","public_key":"AAAA"}]' },
      'TRUST_KEY_INVALID',
    ],
    ['a trust file that is not JSON', { trustText: 'key' }, 'TRUST_FILE_UNREADABLE'],
    [
      'another verified genome than the admitted one',
      { expectedId: 'f'.repeat(64) },
      'GENOME_ID_MISMATCH',
    ],
  ])('refuses %s', (_what, change, code) => {
    const verdict = checkMountedGenome({ ...good, ...change });
    expect(verdict).toMatchObject({ ok: false, code });
  });
});

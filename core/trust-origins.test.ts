import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTrustFile, trustFromSecrets, type TrustSecret } from './trust.ts';

const spkiOf = () =>
  generateKeyPairSync('ed25519')
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64');
const b64 = (text: string) => Buffer.from(text).toString('base64');
const secret = (name: string, data: Record<string, string>): TrustSecret => ({
  metadata: { namespace: 'ops', name },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

describe('where a trust problem comes from', () => {
  it('names both Secrets when two claim one key id with different keys', () => {
    const set = trustFromSecrets([
      secret('team-a', { shared: spkiOf() }),
      secret('team-b', { shared: spkiOf() }),
    ]);
    expect(set.keys).toEqual([]);
    expect(set.problems.map((p) => p.origins)).toEqual([
      [
        { namespace: 'ops', name: 'team-a', entry: 'shared' },
        { namespace: 'ops', name: 'team-b', entry: 'shared' },
      ],
    ]);
  });

  it('names the Secret and entry of a refused key', () => {
    const set = trustFromSecrets([secret('keys', { good: spkiOf(), bad: 'not a key' })]);
    expect(set.keys.map((k) => k.origin)).toEqual([
      { namespace: 'ops', name: 'keys', entry: 'good' },
    ]);
    expect(set.problems.map((p) => p.origins)).toEqual([
      [{ namespace: 'ops', name: 'keys', entry: 'bad' }],
    ]);
  });

  it('gives no Secret for a problem in a trust file', () => {
    const set = parseTrustFile(
      JSON.stringify([{ key_id: 'k', alg: 'ed25519', public_key: 'nope' }]),
      'trust.json',
    );
    expect('problems' in set && set.problems.map((p) => p.origins)).toEqual([[]]);
  });
});

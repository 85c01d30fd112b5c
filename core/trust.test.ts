import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodePublicKey,
  MAX_TRUST_FILE_ENTRIES,
  mergeTrustSets,
  parseTrustFile,
  parseTrustedKeys,
  trustFromSecrets,
} from './trust.ts';

const ed = generateKeyPairSync('ed25519');
const spki = ed.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const pem = ed.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const pkcs8 = ed.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
const pkcs8Pem = ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const der = (k: { export(o: { format: 'der'; type: 'spki' }): Buffer }) =>
  k.export({ format: 'der', type: 'spki' }).toString('base64');
const smallOrder = Buffer.concat([
  Buffer.from('302a300506032b6570032100', 'hex'),
  Buffer.from('01'.padEnd(64, '0'), 'hex'),
]).toString('base64');
const nonCanonicalPoint = Buffer.concat([
  Buffer.from('302a300506032b6570032100', 'hex'),
  Buffer.from('ed' + 'ff'.repeat(30) + '7f', 'hex'),
]).toString('base64');

describe('decodePublicKey', () => {
  it.each([
    ['base64 SPKI DER', spki],
    ['a PEM PUBLIC KEY block', pem],
    ['base64 with surrounding whitespace', `  ${spki}\n`],
  ])('accepts %s', (_name, text) => {
    const key = decodePublicKey(text);
    expect('reason' in key).toBe(false);
    if (!('reason' in key)) expect(key.spkiBase64).toBe(spki);
  });

  it.each([
    ['a base64 PKCS#8 private key', pkcs8, /PRIVATE key/, true],
    ['a PEM PRIVATE KEY block', pkcs8Pem, /PRIVATE key/, true],
    ['an Ed448 key', der(generateKeyPairSync('ed448').publicKey), /Ed448, not Ed25519/, false],
    ['an X25519 key', der(generateKeyPairSync('x25519').publicKey), /X25519, not Ed25519/, false],
    [
      'a P-256 key',
      der(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      /EC \(ECDSA\/ECDH\), not Ed25519/,
      false,
    ],
    [
      'an RSA key',
      der(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      /RSA, not Ed25519/,
      false,
    ],
    ['a raw 32-byte key', Buffer.alloc(32, 7).toString('base64'), /raw 32-byte key/, false],
    ['a truncated SPKI', spki.slice(0, 40), /44 bytes|canonical base64/, false],
    [
      'non-canonical base64 (non-zero padding bits)',
      spki.slice(0, -2) + '1=',
      /canonical base64/,
      false,
    ],
    ['base64 without padding', spki.replace(/=+$/, ''), /canonical base64/, false],
    ['a key of small order (the identity)', smallOrder, /small order/, false],
    ['a non-canonical point encoding', nonCanonicalPoint, /canonically encoded/, false],
    [
      'a PEM block of another kind',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
      /not a PUBLIC KEY/,
      false,
    ],
    ['garbage', 'hello world', /canonical base64/, false],
  ])('refuses %s with its own reason', (_name, text, reason, privateKey) => {
    const key = decodePublicKey(text);
    expect('reason' in key).toBe(true);
    if (!('reason' in key)) return;
    expect(key.reason).toMatch(reason);
    expect(key.privateKey).toBe(privateKey);
  });
});

describe('parseTrustedKeys', () => {
  it('keeps usable keys and reports the rest, flagging private key material', () => {
    const set = parseTrustedKeys([
      { keyId: 'good', value: spki, source: 'secret a' },
      { keyId: 'leaked', value: pkcs8, source: 'secret a' },
      { keyId: 'bad/id', value: spki, source: 'secret b' },
    ]);
    expect(set.keys.map((k) => k.keyId)).toEqual(['good']);
    expect(set.problems.map((p) => [p.keyId, p.code, p.privateKey])).toEqual([
      ['leaked', 'PRIVATE_KEY_EXPOSED', true],
      ['bad/id', 'TRUST_KEY_INVALID', false],
    ]);
    expect(set.problems[0]?.message).not.toContain(pkcs8);
  });
});

describe('parseTrustFile', () => {
  it('reads one object or an array, with an optional test flag', () => {
    const one = parseTrustFile(
      JSON.stringify({ key_id: 'a', alg: 'ed25519', public_key: spki }),
      'f',
    );
    const many = parseTrustFile(
      JSON.stringify([
        { key_id: 'a', public_key: spki },
        { key_id: 'b', alg: 'ed25519', public_key: pem, test: true },
      ]),
      'f',
    );
    expect('keys' in one && one.keys.map((k) => k.keyId)).toEqual(['a']);
    expect('keys' in many && many.keys.map((k) => [k.keyId, k.test])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  const entry = { key_id: 'a', alg: 'ed25519', public_key: spki };
  const keygenOutput = `${JSON.stringify(entry, null, 2)}\n${pkcs8}\n`;
  const refusals: [string, string, string, RegExp][] = [
    ['a file holding only a private key', pkcs8, 'PRIVATE_KEY_EXPOSED', /PRIVATE key/],
    ['a file holding a PEM private key', pkcs8Pem, 'PRIVATE_KEY_EXPOSED', /PRIVATE key/],
    [
      "genome-keygen's stdout and stderr together (> f 2>&1)",
      keygenOutput,
      'PRIVATE_KEY_EXPOSED',
      /PRIVATE key/,
    ],
    [
      'the same, stderr first',
      `${pkcs8}\n${JSON.stringify(entry)}\n`,
      'PRIVATE_KEY_EXPOSED',
      /PRIVATE key/,
    ],
    [
      'an entry with private_key',
      JSON.stringify({ key_id: 'a', private_key: pkcs8 }),
      'PRIVATE_KEY_EXPOSED',
      /PRIVATE key/,
    ],
    ...['privateKey', 'secret_key', 'private_key_pem', 'seed', 'd'].map(
      (name) =>
        [
          `an entry with a field ${name} (whatever its value)`,
          JSON.stringify({ ...entry, [name]: 'x' }),
          'PRIVATE_KEY_EXPOSED',
          new RegExp(`field "${name}", which names a private key`),
        ] as [string, string, string, RegExp],
    ),
    [
      'a private key under an innocent field name',
      JSON.stringify({ ...entry, comment: pkcs8 }),
      'PRIVATE_KEY_EXPOSED',
      /\."comment": this is a PRIVATE key/,
    ],
    [
      'a PEM private key of another type in public_key',
      JSON.stringify({
        ...entry,
        public_key: `-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----`,
      }),
      'PRIVATE_KEY_EXPOSED',
      /EC PRIVATE KEY/,
    ],
    [
      'an unknown field',
      JSON.stringify({ ...entry, comment: 'mine' }),
      'TRUST_FILE_INVALID',
      /"comment" is not a field of a trust entry/,
    ],
    ['text that is not JSON', 'not json', 'TRUST_FILE_UNREADABLE', /unexpected|line 1/],
    [
      'an entry of another algorithm',
      JSON.stringify({ key_id: 'a', alg: 'rsa', public_key: spki }),
      'TRUST_FILE_INVALID',
      /alg must be ed25519/,
    ],
    [
      `more than ${MAX_TRUST_FILE_ENTRIES} entries`,
      JSON.stringify(Array.from({ length: MAX_TRUST_FILE_ENTRIES + 1 }, () => entry)),
      'TRUST_FILE_TOO_LARGE',
      new RegExp(
        `${MAX_TRUST_FILE_ENTRIES + 1} entries, over the limit of ${MAX_TRUST_FILE_ENTRIES}`,
      ),
    ],
  ];
  it.each(refusals)('refuses %s', (_name, text, code, reason) => {
    const result = parseTrustFile(text, 'f');
    expect('keys' in result).toBe(false);
    if (!('keys' in result)) {
      expect(result.code).toBe(code);
      expect(result.message).toMatch(reason);
      expect(result.message).not.toContain(pkcs8.slice(16, 40));
    }
  });

  it('escapes and clips a field name from the file in its message', () => {
    const name = `\u202e${'x'.repeat(10_000)}`;
    const result = parseTrustFile(JSON.stringify({ ...entry, [name]: 1 }), 'f');
    expect('keys' in result).toBe(false);
    if ('keys' in result) return;
    expect(result.message).not.toContain('\u202e');
    expect(result.message).toContain('\\u{202e}');
    expect(result.message.length).toBeLessThan(600);
  });

  it(`parses a full file of ${MAX_TRUST_FILE_ENTRIES} entries quickly`, () => {
    const keys = Array.from({ length: MAX_TRUST_FILE_ENTRIES }, (_, i) => ({
      key_id: `k-${i}`,
      alg: 'ed25519',
      public_key: der(generateKeyPairSync('ed25519').publicKey),
    }));
    const started = performance.now();
    const set = parseTrustFile(JSON.stringify(keys, null, 2), 'f');
    const ms = performance.now() - started;
    expect('keys' in set && set.keys.length).toBe(MAX_TRUST_FILE_ENTRIES);
    expect(ms).toBeLessThan(2000);
  });
});

describe('trustFromSecrets', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const other = generateKeyPairSync('ed25519')
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64');
  const secret = (name: string, data: Record<string, string>, testKeys?: string) => ({
    metadata: {
      namespace: 'ops',
      name,
      ...(testKeys && { annotations: { 'genome.mathison.io/test-keys': testKeys } }),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });

  it.each([
    ['a PKCS#8 key with line breaks', pkcs8.replace(/(.{20})/g, '$1\n')],
    ['a base64url PKCS#8 key without padding', Buffer.from(pkcs8, 'base64').toString('base64url')],
    ['a hex PKCS#8 key', Buffer.from(pkcs8, 'base64').toString('hex')],
    ['a 64-byte NaCl secret key in hex', Buffer.alloc(64, 3).toString('hex')],
    [
      'an OpenSSH private key block',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
    ],
  ])('recognises %s as private key material, without printing it', (_name, value) => {
    const set = trustFromSecrets([secret('a', { leaked: value })]);
    expect(set.problems).toMatchObject([
      { keyId: 'leaked', privateKey: true, code: 'PRIVATE_KEY_EXPOSED' },
    ]);
    expect(set.problems[0]?.message).not.toContain(value.slice(10, 30));
  });

  it('reads one key per data entry, the entry name being the key id, PEM or base64', () => {
    const set = trustFromSecrets([secret('a', { k1: spki }), secret('b', { k2: pem })]);
    expect(set.keys.map((k) => [k.keyId, k.source])).toEqual([
      ['k1', 'Secret ops/a'],
      ['k2', 'Secret ops/b'],
    ]);
    expect(set.problems).toEqual([]);
  });

  it('marks the key ids listed in the test-keys annotation', () => {
    const set = trustFromSecrets([secret('a', { k1: spki, k2: other }, 'k2')]);
    expect(set.keys.map((k) => [k.keyId, k.test])).toEqual([
      ['k1', false],
      ['k2', true],
    ]);
  });

  it('refuses a private key entry and reports it as private key material', () => {
    const set = trustFromSecrets([secret('a', { good: spki, leaked: pkcs8 })]);
    expect(set.keys.map((k) => k.keyId)).toEqual(['good']);
    expect(set.problems).toMatchObject([
      { keyId: 'leaked', privateKey: true, code: 'PRIVATE_KEY_EXPOSED' },
    ]);
  });

  it('trusts neither key when two Secrets give one key id different keys', () => {
    const set = trustFromSecrets([secret('a', { k: spki }), secret('b', { k: other })]);
    expect(set.keys).toEqual([]);
    expect(set.problems[0]?.message).toMatch(
      /different public keys in Secret ops\/a, Secret ops\/b/,
    );
  });

  it('accepts the same key id with the same key in two Secrets once', () => {
    const set = trustFromSecrets([secret('a', { k: spki }), secret('b', { k: pem })]);
    expect(set.keys.map((k) => k.keyId)).toEqual(['k']);
  });
});

describe('mergeTrustSets', () => {
  const other = generateKeyPairSync('ed25519')
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64');
  it('refuses a key id that two trust files give different keys, instead of letting one win', () => {
    const a = parseTrustedKeys([{ keyId: 'k', value: spki, source: 'a.json' }]);
    const b = parseTrustedKeys([{ keyId: 'k', value: other, source: 'b.json' }]);
    const merged = mergeTrustSets([a, b]);
    expect(merged.keys).toEqual([]);
    expect(merged.problems[0]?.message).toMatch(/different public keys in a.json, b.json/);
  });
});

describe('private key material in other layouts', () => {
  it('flags a 64-byte NaCl secret key as a private key', () => {
    const key = decodePublicKey(Buffer.alloc(64, 1).toString('base64'));
    expect('reason' in key && key.privateKey).toBe(true);
  });
});

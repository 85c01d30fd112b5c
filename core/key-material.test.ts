import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  findPrivateKeyMaterial,
  isPrivateKeyFieldName,
  keyFingerprint,
  privateKeyKind,
} from './key-material.ts';

const ed = generateKeyPairSync('ed25519');
const pkcs8 = ed.privateKey.export({ format: 'der', type: 'pkcs8' });
const spki = ed.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

describe('privateKeyKind', () => {
  it.each([
    ['base64 PKCS#8', pkcs8.toString('base64')],
    ['base64url PKCS#8 without padding', pkcs8.toString('base64url')],
    ['hex PKCS#8', pkcs8.toString('hex')],
    ['PKCS#8 base64 broken over lines', pkcs8.toString('base64').replace(/(.{16})/g, '$1\n')],
    ['a PEM PRIVATE KEY', ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string],
    ['a PEM ENCRYPTED PRIVATE KEY header', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA'],
    ['a PGP private key block', '-----BEGIN PGP PRIVATE KEY BLOCK-----\nAAAA'],
    ['a 64-byte NaCl secret key', Buffer.alloc(64, 9).toString('base64')],
    [
      'an OpenSSH key body',
      Buffer.from('openssh-key-v1\u0000' + 'x'.repeat(40)).toString('base64'),
    ],
  ])('recognises %s', (_name, text) => {
    expect(privateKeyKind(text)).toBeDefined();
  });

  it.each([
    ['an SPKI public key', spki],
    ['a PEM PUBLIC KEY', ed.publicKey.export({ format: 'pem', type: 'spki' }) as string],
    ['a raw 32-byte key', Buffer.alloc(32, 1).toString('base64')],
    ['short text', 'hello'],
  ])('does not flag %s', (_name, text) => {
    expect(privateKeyKind(text)).toBeUndefined();
  });
});

describe('findPrivateKeyMaterial', () => {
  it('finds a private key on a line of its own after JSON (keygen > f 2>&1)', () => {
    const text = `{"key_id": "k", "alg": "ed25519", "public_key": "${spki}"}\n${pkcs8.toString('base64')}\n`;
    expect(findPrivateKeyMaterial(text)).toMatch(/DER private key/);
  });

  it('finds nothing in a trust file of public keys', () => {
    expect(findPrivateKeyMaterial(JSON.stringify([{ key_id: 'k', public_key: spki }]))).toBe(
      undefined,
    );
  });
});

describe('isPrivateKeyFieldName', () => {
  it.each(['private_key', 'privateKey', 'secret_key', 'private_key_pem', 'seed', 'd', 'sk'])(
    'flags %s',
    (name) => expect(isPrivateKeyFieldName(name)).toBe(true),
  );
  it.each(['key_id', 'alg', 'public_key', 'test', 'comment'])('does not flag %s', (name) =>
    expect(isPrivateKeyFieldName(name)).toBe(false),
  );
});

describe('keyFingerprint', () => {
  it('is sha256: and 8 hex digits of the trimmed text', () => {
    expect(keyFingerprint(` ${spki}\n`)).toBe(keyFingerprint(spki));
    expect(keyFingerprint(spki)).toMatch(/^sha256:[0-9a-f]{8}$/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  importEd25519PublicKey,
  isCanonicalScalar,
  verifyEd25519,
  verifyEd25519Noble,
  type Ed25519PublicKey,
} from './ed25519.ts';
import { createPublicKey } from 'node:crypto';
import * as noble from '@noble/ed25519';

const VECTORS = join(import.meta.dirname, '..', 'test', 'vectors');
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

interface WycheproofTest {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid';
  flags: string[];
}
const wycheproof = JSON.parse(
  readFileSync(join(VECTORS, 'wycheproof-ed25519_test.json'), 'utf8'),
) as {
  testGroups: { publicKey: { pk: string }; publicKeyDer: string; tests: WycheproofTest[] }[];
};
const cases = wycheproof.testGroups.flatMap((g) =>
  g.tests.map((t) => ({ ...t, pk: g.publicKey.pk, der: g.publicKeyDer })),
);

/** Node's verifier on the raw key, bypassing our key policy, to compare implementations. */
function nodeOnly(der: string): Ed25519PublicKey {
  const handle = createPublicKey({ key: Buffer.from(der, 'hex'), format: 'der', type: 'spki' });
  return { raw: hex(der.slice(-64)), spkiBase64: '', handle };
}

describe('Ed25519 against Wycheproof', () => {
  it.each(cases)(
    'tc $tcId ($result) $comment: Node and strict noble agree with the expected result',
    (t) => {
      const message = hex(t.msg);
      const signature = hex(t.sig);
      const expected = t.result === 'valid';
      expect(verifyEd25519(nodeOnly(t.der), message, signature)).toBe(expected);
      expect(verifyEd25519Noble(hex(t.pk), message, signature)).toBe(expected);
    },
  );

  it('never accepts an invalid vector through the full path (key policy + verifier)', () => {
    for (const t of cases.filter((c) => c.result === 'invalid')) {
      const key = importEd25519PublicKey(hex(t.pk));
      if (typeof key === 'string') continue; // refused at import: cannot accept anything
      expect(verifyEd25519(key, hex(t.msg), hex(t.sig)), `tc ${t.tcId}`).toBe(false);
    }
  });
});

describe('Ed25519 against RFC 8032 section 7.1', () => {
  const rfc = JSON.parse(readFileSync(join(VECTORS, 'rfc8032-ed25519.json'), 'utf8')) as {
    vectors: { public_key_hex: string; message_hex: string; signature_hex: string }[];
  };
  it.each(rfc.vectors.map((v, i) => ({ ...v, n: i + 1 })))(
    'test $n verifies, and fails with one bit flipped',
    (v) => {
      const key = importEd25519PublicKey(hex(v.public_key_hex));
      expect(typeof key).toBe('object');
      if (typeof key === 'string') return;
      const sig = hex(v.signature_hex);
      expect(verifyEd25519(key, hex(v.message_hex), sig)).toBe(true);
      expect(verifyEd25519Noble(key.raw, hex(v.message_hex), sig)).toBe(true);
      sig[0] = (sig[0] as number) ^ 1;
      expect(verifyEd25519(key, hex(v.message_hex), sig)).toBe(false);
    },
  );
});

describe('importEd25519PublicKey', () => {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  it('refuses the identity key, under which a ZIP-215 verifier accepts the all-zero signature for any message', () => {
    // The danger this guards against, shown on @noble/ed25519's default (ZIP-215) rules:
    expect(noble.verify(new Uint8Array(64), hex('deadbeef'), identity)).toBe(true);
    expect(importEd25519PublicKey(identity)).toMatch(/small order/);
  });

  it('refuses a key with a torsion component (a valid key plus a point of order 8)', () => {
    const order8 = noble.Point.fromHex(
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    );
    const mixed = noble.Point.BASE.multiply(123456789n).add(order8).toBytes();
    expect(importEd25519PublicKey(mixed)).toMatch(/torsion/);
    expect(typeof importEd25519PublicKey(noble.Point.BASE.multiply(123456789n).toBytes())).toBe(
      'object',
    );
  });

  it.each([
    [
      'a point of order 2 (y = -1)',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      /small order/,
    ],
    [
      'a point of order 4 (x = 0 encoded with y = 0)',
      '0000000000000000000000000000000000000000000000000000000000000000',
      /small order/,
    ],
    [
      'a non-canonical encoding of y (y >= p)',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      /canonically encoded/,
    ],
    [
      'a point of order 8',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
      /small order/,
    ],
    ['a short key', '00', /32 bytes/],
  ])('refuses %s', (_name, keyHex, reason) => {
    expect(importEd25519PublicKey(hex(keyHex))).toMatch(reason);
  });
});

describe('isCanonicalScalar', () => {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const withS = (s: bigint) => {
    const sig = new Uint8Array(64);
    for (let i = 0; i < 32; i += 1) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
    return sig;
  };
  it.each([
    { name: '0', s: 0n, expected: true },
    { name: 'L - 1', s: L - 1n, expected: true },
    { name: 'L', s: L, expected: false },
    { name: 'L + 1', s: L + 1n, expected: false },
    { name: '2^256 - 1', s: 2n ** 256n - 1n, expected: false },
  ])('S = $name is canonical: $expected', ({ s, expected }) => {
    expect(isCanonicalScalar(withS(s))).toBe(expected);
  });
});

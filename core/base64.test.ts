import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Strict } from './base64.ts';

describe('decodeBase64Strict', () => {
  it('decodes what Node encodes, at every length and padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(decodeBase64Strict(text)).toEqual(Uint8Array.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses any text that is not the one canonical spelling of some bytes', () => {
    // Node's decoder is lenient, so canonical means: it round-trips through Node unchanged.
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \né'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }), (chars) => {
        const text = chars.join('');
        const canonical = Buffer.from(Buffer.from(text, 'base64')).toString('base64') === text;
        expect(decodeBase64Strict(text) !== undefined).toBe(canonical);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ['missing padding', 'QQ'],
    ['non-zero padding bits (two pad characters)', 'QR=='],
    ['non-zero padding bits (one pad character)', 'QUJ='],
    ['padding in the middle', 'QQ==QQ=='],
    ['a bad character before one pad character', 'Q-A='],
    ['a non-ASCII character before one pad character', 'QéA='],
    ['a pad character in place of a letter', 'Q=A='],
    ['a URL-safe character', 'ab-_'],
    ['whitespace', 'QUJD\n'],
    ['a non-ASCII character', 'QUJé'],
    ['only padding', '===='],
  ])('refuses %s', (_, text) => {
    expect(decodeBase64Strict(text)).toBeUndefined();
  });

  it('decodes the empty string to no bytes', () => {
    expect(decodeBase64Strict('')).toEqual(new Uint8Array(0));
  });
});

import { describe, expect, it } from 'vitest';
import { validateGenome } from './genome.ts';
import { CLIPPED, clipDepth, jsonText } from './json-text.ts';
import { declaring, genome, keyPair, signedBy } from '../test/builders/index.ts';

function nested(depth: number): unknown {
  let deep: unknown = 'bottom';
  for (let i = 0; i < depth; i++) deep = { d: deep };
  return deep;
}

describe('jsonText', () => {
  it('is JSON.stringify for an ordinary value', () => {
    const value = { a: [1, 'two', null], b: { c: true } };
    expect(jsonText(value)).toBe(JSON.stringify(value));
  });

  it('does not throw on a value nested 10,000 levels deep, where JSON.stringify does', () => {
    const deep = nested(10_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const text = jsonText(deep);
    expect(text.length).toBeLessThan(1_000);
    expect(text).toContain(JSON.stringify(CLIPPED));
  });

  it('keeps a deep genome refused: the clipped copy fails validation as the whole did', () => {
    const deepGenome = {
      ...genome(declaring(keyPair('a')), signedBy(keyPair('a'))),
      x: nested(9_000),
    };
    const clipped = JSON.parse(jsonText(deepGenome)) as unknown;
    expect(validateGenome(clipped)).toMatchObject({
      ok: false,
      refusal: { code: 'GENOME_INVALID_SCHEMA', field: 'x' },
    });
  });

  it('keeps an own __proto__ key as data', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    expect(JSON.parse(JSON.stringify(clipDepth(value, 5)))).toEqual(value);
    expect(Object.getPrototypeOf(clipDepth(value, 5))).toBe(Object.prototype);
  });
});

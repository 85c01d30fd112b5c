import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseStrictJson } from './strict-json.ts';

describe('parseStrictJson', () => {
  it.each([
    ['an object', '{"a":1,"b":[true,false,null],"c":"x"}'],
    ['nested arrays and whitespace', ' [ 1 , [ 2 , { "k" : "v" } ] ]\n'],
    ['escapes and astral characters', '"\\u00e9\\n\\"\\\\ 😂 \\ud83d\\ude02"'],
    ['the largest safe integer', '9007199254740991'],
    ['fractions and exponents', '[0.5, -1.25e-3, 1E2]'],
    ['an empty object and array', '{"a":{},"b":[]}'],
  ])('reads %s exactly as JSON.parse does', (_name, text) => {
    const result = parseStrictJson(text);
    expect(result).toEqual({ ok: true, value: JSON.parse(text) });
  });

  it.each([
    ['a duplicate key', '{"a":1,"a":2}', 'duplicate key "a"'],
    ['a duplicate key in a nested object', '{"x":{"k":1,"k":1}}', 'duplicate key "k"'],
    ['a raw lone surrogate', '"\ud800"', 'lone UTF-16 surrogate'],
    ['an escaped lone high surrogate', '"\\ud83d x"', 'lone UTF-16 surrogate'],
    ['an escaped lone low surrogate', '{"k":"\\ude02"}', 'lone UTF-16 surrogate'],
    ['an integer beyond 2^53', '{"threshold":9007199254740993}', 'beyond the exact integer range'],
    ['a number that overflows a double', '1e400', 'not finite'],
    ['a byte-order mark', '\ufeff{}', 'byte-order mark'],
    ['trailing text', '{} {}', 'unexpected text after the JSON value'],
    ['an empty document', '  ', 'empty document'],
    ['a control character in a string', '"a\u0001b"', 'control character'],
    ['an invalid escape', '"\\x41"', 'invalid string escape'],
    ['an unterminated string', '{"a":"b', 'unterminated string'],
    ['a trailing comma', '[1,2,]', 'unexpected character'],
    ['a missing colon', '{"a" 1}', 'expected ":"'],
    ['a single-quoted string', "{'a':1}", 'expected a string key'],
    ['NaN', 'NaN', 'unexpected character'],
    ['a truncated document', '{"a":[1,2', 'unexpected end of input'],
  ])('refuses %s with GENOME_UNREADABLE', (_name, text, reason) => {
    const result = parseStrictJson(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal.code).toBe('GENOME_UNREADABLE');
    expect(result.refusal.message).toContain(reason);
  });

  it('says where the problem is, by line and column', () => {
    const result = parseStrictJson('{\n  "a": 1,\n  "a": 2\n}');
    expect(!result.ok && result.refusal.message).toContain('line 3, column 3');
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels without exhausting the stack`, () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const result = parseStrictJson(deep);
    expect(!result.ok && result.refusal.message).toContain('nesting deeper than');
    const fine = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    expect(parseStrictJson(fine).ok).toBe(true);
  });

  it('keeps a __proto__ key as data instead of changing the prototype', () => {
    const result = parseStrictJson('{"__proto__":{"polluted":true}}');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const value = result.value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});

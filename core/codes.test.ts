import { describe, expect, it } from 'vitest';
import { REFUSAL_CODES, type RefusalCode } from './codes.ts';

const entries = Object.entries(REFUSAL_CODES) as [
  RefusalCode,
  { meaning: string; action: string },
][];

describe('REFUSAL_CODES', () => {
  it('gives every code its own meaning: no two codes mean the same thing', () => {
    const meanings = entries.map(([, info]) => info.meaning.trim().toLowerCase());
    expect(new Set(meanings).size).toBe(meanings.length);
  });

  it('names every code in upper snake case, with a meaning and something to do', () => {
    for (const [code, info] of entries) {
      expect(code).toMatch(/^[A-Z]+(?:_[A-Z0-9]+)+$/);
      expect(info.meaning.length, code).toBeGreaterThan(10);
      expect(info.action.length, code).toBeGreaterThan(10);
    }
  });

  it('gives trust files codes of their own, apart from the genome codes', () => {
    for (const code of [
      'TRUST_FILE_MISSING',
      'TRUST_FILE_UNREADABLE',
      'TRUST_FILE_INVALID',
      'TRUST_FILE_TOO_LARGE',
      'TRUST_FILES_TOO_MANY',
      'PRIVATE_KEY_EXPOSED',
    ]) {
      expect(Object.keys(REFUSAL_CODES)).toContain(code);
    }
  });
});

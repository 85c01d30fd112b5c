import { describe, expect, it } from 'vitest';
import { compareSemver } from './semver.ts';

describe('compareSemver', () => {
  // The precedence example of semver.org 11.4, in ascending order.
  const ascending = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.1.0',
    '1.10.0',
    '2.0.0',
  ];
  it.each(ascending.slice(1).map((v, i) => [ascending[i], v]))('%s < %s', (lower, higher) => {
    expect(compareSemver(lower!, higher!)).toBe(-1);
    expect(compareSemver(higher!, lower!)).toBe(1);
  });

  it('compares components beyond 2^53 exactly', () => {
    expect(compareSemver('9007199254740992.0.0', '9007199254740993.0.0')).toBe(-1);
    expect(compareSemver('1.0.0-9007199254740993', '1.0.0-9007199254740992')).toBe(1);
  });

  it('ignores build metadata', () => {
    expect(compareSemver('1.0.0+build.1', '1.0.0+build.2')).toBe(0);
  });

  it('answers undefined for a version that is not semver', () => {
    expect(compareSemver('1.0', '1.0.0')).toBeUndefined();
  });
});

import { SEMVER_PATTERN } from './genome-schema.ts';

const SEMVER = new RegExp(SEMVER_PATTERN);

/**
 * Compares two semantic versions by semver 2.0.0 precedence: -1, 0 or 1. Build metadata is
 * ignored; a pre-release is lower than its release. Returns undefined if either is not semver.
 */
export function compareSemver(a: string, b: string): -1 | 0 | 1 | undefined {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (x === null || y === null) return undefined;
  for (let i = 1; i <= 3; i += 1) {
    const order = compareDigits(x[i] as string, y[i] as string);
    if (order !== 0) return order;
  }
  return comparePrerelease(x[4], y[4]);
}

function comparePrerelease(a: string | undefined, b: string | undefined): -1 | 0 | 1 {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const xs = a.split('.');
  const ys = b.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i += 1) {
    const order = compareIdentifier(xs[i], ys[i]);
    if (order !== 0) return order;
  }
  return 0;
}

function compareIdentifier(a: string | undefined, b: string | undefined): -1 | 0 | 1 {
  if (a === b) return 0;
  if (a === undefined) return -1; // fewer fields is lower
  if (b === undefined) return 1;
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? -1 : 1; // numeric identifiers are lower than alphanumeric ones
  return a < b ? -1 : 1;
}

/** Compares decimal numbers of any size (semver has no leading zeros): by length, then text. */
function compareDigits(a: string, b: string): -1 | 0 | 1 {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

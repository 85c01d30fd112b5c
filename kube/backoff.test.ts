import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from './backoff.ts';

describe('exponentialBackoff', () => {
  it('doubles up to the cap, with the top of the jitter range', () => {
    const b = exponentialBackoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('draws each delay from the upper half of its ceiling', () => {
    const b = exponentialBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
  });

  it('starts again from the initial delay after reset', () => {
    const b = exponentialBackoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });
});

import { describe, expect, it } from 'vitest';
import { GENOME_ID_ANNOTATION } from '../../core/api.ts';
import { StampExpectations } from './rollout.ts';
import type { CachedWorkload } from '../cached.ts';

const workload = (uid: string, id?: string): CachedWorkload => ({
  kind: 'StatefulSet',
  metadata: { name: 'db', namespace: 'apps', uid },
  spec: {
    template: {
      metadata: {
        labels: { app: 'db' },
        annotations: { other: 'kept', ...(id !== undefined && { [GENOME_ID_ANNOTATION]: id }) },
      },
    },
  },
});
const stamp = (w: CachedWorkload) =>
  w.spec?.template?.metadata?.annotations?.[GENOME_ID_ANNOTATION];

describe('StampExpectations (a stamp written, not yet in the cache)', () => {
  it('shows the expected stamp until the cache has it, leaving the cached object untouched', () => {
    const stamps = new StampExpectations();
    const cached = workload('u1', 'old');
    stamps.expect('u1', 'new');
    const seen = stamps.overlay(cached);
    expect(stamp(seen)).toBe('new');
    expect(seen.spec?.template?.metadata?.annotations?.other).toBe('kept');
    expect(seen.spec?.template?.metadata?.labels).toEqual({ app: 'db' });
    expect(stamp(cached)).toBe('old');
    expect(stamps.overlay(workload('u2', 'old'))).toEqual(workload('u2', 'old'));

    stamps.observe(workload('u1', 'new'));
    // The cache caught up; later changes by others are what the cache says.
    expect(stamp(stamps.overlay(workload('u1', 'reverted')))).toBe('reverted');
  });

  it('ends an expectation after 5 minutes', () => {
    let now = 0;
    const stamps = new StampExpectations(() => now);
    stamps.expect('u1', 'new');
    now = 4 * 60_000;
    expect(stamp(stamps.overlay(workload('u1', 'old')))).toBe('new');
    now = 6 * 60_000;
    expect(stamp(stamps.overlay(workload('u1', 'old')))).toBe('old');
  });
});

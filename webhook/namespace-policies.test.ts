import { describe, expect, it } from 'vitest';
import type { TrustPolicy } from '../core/trust-policy.ts';
import { policiesForLabels } from './namespace-policies.ts';

const policy = (name: string, matchLabels?: Record<string, string>): TrustPolicy => ({
  name,
  spec: { mode: 'Enforce', ...(matchLabels && { match: { namespaceSelector: { matchLabels } } }) },
});

describe('policiesForLabels', () => {
  const policies = [
    policy('default'),
    policy('production', { env: 'production' }),
    policy('dev', { env: 'dev' }),
  ];
  const names = (labels: Record<string, string>) =>
    policiesForLabels(policies, labels).map((p) => p.name);

  it('keeps the policies whose selector selects the labels, and those without one', () => {
    expect(names({ env: 'production', team: 'a' })).toEqual(['default', 'production']);
    expect(names({})).toEqual(['default']);
  });

  it('answers by the labels, not by the object that carries them', () => {
    const labels: Record<string, string> = { env: 'dev' };
    expect(names(labels)).toEqual(['default', 'dev']);
    expect(names({ team: 'a', env: 'dev' })).toEqual(['default', 'dev']);
    labels.env = 'production';
    expect(names(labels)).toEqual(['default', 'production']);
  });

  it('answers for a new set of policies afresh', () => {
    expect(policiesForLabels([policy('only-dev', { env: 'dev' })], { env: 'dev' })).toHaveLength(1);
    expect(policiesForLabels([], { env: 'dev' })).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_TRUST_POLICY, type TrustPolicy } from '../../core/trust-policy.ts';
import { desiredStatus } from './policy.ts';

const now = () => new Date('2026-12-05T00:00:00Z');
const statusWith = (policy: TrustPolicy) =>
  desiredStatus({ trust: { keys: () => [] }, verdicts: { list: () => [] }, now }, policy);

describe('desiredStatus, while no key is trusted at all', () => {
  it('a policy that names no trust Secret is Ready (reason NoTrustedKeys): the refusal is TRUST_KEYS_MISSING, not the policy', () => {
    // The chart's default policy on a fresh install: Helm's --wait (kstatus) waits for Ready.
    const status = statusWith({ ...DEFAULT_TRUST_POLICY, generation: 1 });
    expect(status.conditions).toMatchObject([
      {
        type: 'Ready',
        status: 'True',
        reason: 'NoTrustedKeys',
        message: expect.stringContaining('TRUST_KEYS_MISSING'),
      },
    ]);
  });

  it('a policy that names a trust Secret holding no key is not Ready: that Secret is the problem', () => {
    const status = statusWith({
      name: 'team-a',
      generation: 1,
      spec: { mode: 'Enforce', keys: { secretRefs: [{ name: 'team-a-keys' }] } },
    });
    expect(status.conditions).toMatchObject([
      { type: 'Ready', status: 'False', reason: 'POLICY_NOT_READY' },
    ]);
  });

  it('an invalid policy is not Ready', () => {
    const status = statusWith({
      ...DEFAULT_TRUST_POLICY,
      generation: 1,
      problem: 'spec.mode: must be one of Enforce, Warn, Audit',
    });
    expect(status.conditions).toMatchObject([{ status: 'False', reason: 'POLICY_NOT_READY' }]);
  });
});

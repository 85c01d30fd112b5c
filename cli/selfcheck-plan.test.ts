import { describe, expect, it } from 'vitest';
import {
  judgeGood,
  judgeTampered,
  refusalCode,
  TAMPERED_REFUSALS,
  tamper,
} from './selfcheck-plan.ts';

const denial = (code: string) =>
  `admission webhook "genomes.mathison.io" denied the request: ${code}: spec.genome.signature: the signature does not match. What to do: sign again`;

describe('the self-check verdicts', () => {
  it('reads the refusal code of a denial by the Genome webhook only', () => {
    expect(refusalCode(denial('GENOME_INVALID_SIGNATURE'))).toBe('GENOME_INVALID_SIGNATURE');
    expect(
      refusalCode('admission webhook "other.example.com" denied the request: X_Y: no'),
    ).toBeUndefined();
    expect(refusalCode('genomes.mathison.io "x" is forbidden: User cannot create')).toBeUndefined();
  });

  it('waits while a tampered Genome is admitted (fail-open, no replica) or the webhook cannot be called', () => {
    expect(judgeTampered({ admitted: true }, 'GENOME_INVALID_SIGNATURE').kind).toBe('wait');
    const noEndpoint = {
      admitted: false as const,
      code: 500,
      message:
        'Internal error occurred: failed calling webhook "genomes.mathison.io": no endpoints available for service "genome-webhook"',
    };
    expect(judgeTampered(noEndpoint, 'GENOME_INVALID_SIGNATURE').kind).toBe('wait');
    expect(
      judgeTampered({ admitted: false, code: undefined, message: 'ECONNREFUSED' }, 'X').kind,
    ).toBe('wait');
  });

  it('passes only on the expected refusal code, and stops at a wrong one or an RBAC refusal', () => {
    const ok = judgeTampered(
      { admitted: false, code: 403, message: denial('GENOME_INVALID_SIGNATURE') },
      'GENOME_INVALID_SIGNATURE',
    );
    expect(ok).toEqual({ kind: 'refused', code: 'GENOME_INVALID_SIGNATURE' });
    const wrong = judgeTampered(
      { admitted: false, code: 403, message: denial('GENOME_INVALID_SCHEMA') },
      'GENOME_INVALID_SIGNATURE',
    );
    expect(wrong.kind).toBe('fatal');
    const rbac = judgeTampered(
      {
        admitted: false,
        code: 403,
        message: 'genomes.mathison.io is forbidden: User "system:serviceaccount:x:y" cannot create',
      },
      'GENOME_INVALID_SIGNATURE',
    );
    expect(rbac).toMatchObject({ kind: 'fatal', why: expect.stringContaining('HTTP 403') });
  });

  it('takes TRUST_KEYS_MISSING as a refusal too: before any key is trusted the webhook refuses every Genome so, and that is the answer of a replica failing closed', () => {
    expect(TAMPERED_REFUSALS).toEqual(['GENOME_INVALID_SIGNATURE', 'TRUST_KEYS_MISSING']);
    const answer = (code: string) => ({
      admitted: false as const,
      code: 403,
      message: denial(code),
    });
    expect(judgeTampered(answer('TRUST_KEYS_MISSING'))).toEqual({
      kind: 'refused',
      code: 'TRUST_KEYS_MISSING',
    });
    expect(judgeTampered(answer('GENOME_INVALID_SIGNATURE'))).toEqual({
      kind: 'refused',
      code: 'GENOME_INVALID_SIGNATURE',
    });
    expect(judgeTampered(answer('POLICY_NO_MATCH'))).toMatchObject({
      kind: 'fatal',
      why: 'the tampered Genome was refused with POLICY_NO_MATCH, not GENOME_INVALID_SIGNATURE or TRUST_KEYS_MISSING',
    });
  });

  it('requires the good Genome to be admitted, and says why when it is refused', () => {
    expect(judgeGood({ admitted: true })).toEqual({ kind: 'admitted' });
    const refused = judgeGood({
      admitted: false,
      code: 403,
      message: denial('GENOME_UNTRUSTED_SIGNER'),
    });
    expect(refused).toMatchObject({
      kind: 'fatal',
      why: expect.stringContaining('GENOME_UNTRUSTED_SIGNER'),
    });
  });

  it('tampers by changing signed content, never to the same value', () => {
    expect(tamper({ version: '1.0.0', name: 'a' })).toEqual({ version: '6.6.6', name: 'a' });
    expect(tamper({ version: '6.6.6' })).toEqual({ version: '6.6.7' });
  });
});

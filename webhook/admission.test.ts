import { describe, expect, it } from 'vitest';
import { allowed, denied, parseAdmissionReview } from './admission.ts';

const review = (request: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request,
  ...extra,
});
const request = {
  uid: 'u',
  operation: 'CREATE',
  kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
};

describe('parseAdmissionReview', () => {
  it('returns the request of a v1 AdmissionReview', () => {
    expect(parseAdmissionReview(review(request))).toMatchObject({ uid: 'u' });
  });

  it.each([
    ['a body that is not an object', [], /not a JSON object/],
    ['another kind', { ...review(request), kind: 'Pod' }, /kind must be AdmissionReview/],
    [
      'the v1beta1 API',
      review(request, { apiVersion: 'admission.k8s.io/v1beta1' }),
      /only admission.k8s.io\/v1/,
    ],
    ['no request', review(undefined), /request is missing/],
    ['no uid', review({ ...request, uid: '' }), /uid is missing/],
    ['an unknown operation', review({ ...request, operation: 'PATCH' }), /operation/],
    ['no kind', review({ ...request, kind: 'Genome' }), /kind is missing/],
  ])('says what is wrong with %s', (_name, body, reason) => {
    expect(parseAdmissionReview(body)).toMatch(reason);
  });
});

describe('denied', () => {
  it('puts the code first, then the field, the reason and what to do, without a double stop', () => {
    const response = denied(
      'u',
      { code: 'GENOME_UNSIGNED', message: 'the genome is not signed.', field: 'signature' },
      'spec.genome',
    );
    expect(response.status?.message).toBe(
      'GENOME_UNSIGNED: spec.genome.signature: the genome is not signed. What to do: sign it: GENOME_SIGNING_PRIVATE_KEY=... genome sign genome.json (docs/cli.md)',
    );
  });
});

describe('denied and allowed escape what they are given', () => {
  it('escapes controls and bidi characters in the message and the field, and clips them', () => {
    const response = denied(
      'u',
      {
        code: 'GENOME_INVALID_SCHEMA',
        message: `bad\u001b[8m\r${'x'.repeat(10_000)}`,
        field: 'a\u202eb',
      },
      'spec.genome',
    );
    const message = response.status?.message ?? '';
    expect([...message].filter((c) => '\u001b\r\u202e'.includes(c))).toEqual([]);
    expect(message).toContain('spec.genome.a\\u{202e}b: bad\\u{1b}[8m\\u{d}');
    expect(message.length).toBeLessThan(5000);
  });

  it('escapes warnings', () => {
    expect(allowed('u', ['w\u2066\n']).warnings).toEqual(['w\\u{2066}\\u{a}']);
  });
});

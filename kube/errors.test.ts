import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  absentOn404,
  isConflict,
  isGone,
  isNotFound,
  isRetryable,
  isTerminal,
  isUidMismatch,
  statusCode,
  statusOf,
} from './errors.ts';

const api = (code: number) => new ApiException(code, 'm', {}, {});

describe('API error mapping', () => {
  it('reads the status of an ApiException and of a watch error; none for a refused connection', () => {
    expect(statusCode(api(404))).toBe(404);
    expect(statusCode(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(statusCode(new Error('connect ECONNREFUSED 127.0.0.1:6443'))).toBeUndefined();
    expect(statusCode(undefined)).toBeUndefined();
  });

  it.each([
    [404, { notFound: true, conflict: false, gone: false, retryable: false }],
    [409, { notFound: false, conflict: true, gone: false, retryable: true }],
    [410, { notFound: false, conflict: false, gone: true, retryable: true }],
    [429, { notFound: false, conflict: false, gone: false, retryable: true }],
    [503, { notFound: false, conflict: false, gone: false, retryable: true }],
    [403, { notFound: false, conflict: false, gone: false, retryable: false }],
    [422, { notFound: false, conflict: false, gone: false, retryable: false }],
  ])('classifies %i', (code, expected) => {
    const err = api(code);
    expect({
      notFound: isNotFound(err),
      conflict: isConflict(err),
      gone: isGone(err),
      retryable: isRetryable(err),
    }).toEqual(expected);
    expect(isTerminal(err)).toBe(!expected.retryable);
  });

  it('retries when the API server did not answer at all', () => {
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
  });

  it('absentOn404 turns 404 into undefined and rethrows anything else', async () => {
    expect(await absentOn404(Promise.resolve(1))).toBe(1);
    expect(await absentOn404(Promise.reject(api(404)))).toBeUndefined();
    await expect(absentOn404(Promise.reject(api(500)))).rejects.toThrow(ApiException);
  });

  it('statusOf gives 200, an expected code, or rethrows', async () => {
    expect(await statusOf(Promise.resolve())).toBe(200);
    expect(await statusOf(Promise.reject(api(409)), 409)).toBe(409);
    expect(await statusOf(Promise.reject(api(403)))).toBe(403);
    await expect(statusOf(Promise.reject(api(500)), 409)).rejects.toThrow(ApiException);
    await expect(statusOf(Promise.reject(new Error('reset')))).rejects.toThrow('reset');
  });

  it('isUidMismatch: 422 on metadata.uid only', () => {
    const body = (field: string) =>
      JSON.stringify({ kind: 'Status', code: 422, details: { causes: [{ field }] } });
    expect(isUidMismatch(new ApiException(422, 'Invalid', body('metadata.uid'), {}))).toBe(true);
    expect(isUidMismatch(new ApiException(422, 'Invalid', body('spec.replicas'), {}))).toBe(false);
    expect(isUidMismatch(new ApiException(409, 'Conflict', body('metadata.uid'), {}))).toBe(false);
  });
});

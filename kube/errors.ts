import { ApiException } from '@kubernetes/client-node';

/**
 * The one place that reads API errors. client-node throws an ApiException with the HTTP code
 * for every answered request; a refused or reset connection is a plain Error (no code): the API
 * server did not answer, which is always worth retrying.
 */

/** The HTTP status code of a client-node error, or undefined when the API server did not answer. */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** True when the object (or its namespace) does not exist: 404. */
export function isNotFound(err: unknown): boolean {
  return statusCode(err) === 404;
}

/**
 * True when a write that carried `metadata.uid` as a precondition met another object of the
 * same name: the API server refuses to change a uid (422, field metadata.uid).
 */
export function isUidMismatch(err: unknown): boolean {
  if (statusCode(err) !== 422) return false;
  const body = err instanceof ApiException ? err.body : (err as { body?: unknown } | null)?.body;
  return JSON.stringify(body ?? '').includes('metadata.uid');
}

/** True when a write lost a race (stale resourceVersion) or a create found the name taken: 409. */
export function isConflict(err: unknown): boolean {
  return statusCode(err) === 409;
}

/** True when a resourceVersion is too old to watch or list from: 410 Gone (relist). */
export function isGone(err: unknown): boolean {
  return statusCode(err) === 410;
}

// 429 throttled, 5xx the server or a proxy failing; 408 and 409 settle on a fresh read.
const RETRYABLE = new Set([408, 409, 410, 429, 500, 502, 503, 504]);

/**
 * True when trying again later may succeed: no answer at all (connection refused, reset,
 * timeout), throttling, conflicts and server errors. False for terminal answers that will not
 * change by themselves (400 invalid, 401/403 not allowed, 404 absent, 422 refused by the schema).
 */
export function isRetryable(err: unknown): boolean {
  const code = statusCode(err);
  return code === undefined || RETRYABLE.has(code);
}

/** True when the API server's answer will not change by retrying (see isRetryable). */
export function isTerminal(err: unknown): boolean {
  return !isRetryable(err);
}

/** Resolves the call's value, or undefined when the API server answers 404; rethrows other errors. */
export async function absentOn404<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Resolves 200 when the call succeeds, or the status code when it is one of `expected` (all
 * codes when none is given); rethrows any other error.
 */
export async function statusOf(call: Promise<unknown>, ...expected: number[]): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const code = statusCode(err);
    if (code !== undefined && (expected.length === 0 || expected.includes(code))) return code;
    throw err;
  }
}

/**
 * Stand-in for kube/errors.ts (branch `kube`, being written at the same time); replaced by it
 * on merge.
 */

/** The HTTP status code of a client-node error, or undefined when the API server did not answer. */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True on 404. */
export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;

/** True on 409. */
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;

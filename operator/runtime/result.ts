/**
 * The reconcile contract, as controller-runtime has it: a reconcile resolves to a Result (done,
 * or look again after a while) or throws. A thrown error is retried with per-key back-off,
 * except a TerminalError, which is logged, counted and not retried: the key runs again only
 * when one of its inputs changes. A reconciler throws one only where giving up cannot leave a
 * gate open (terminalIfInvalid).
 */
import { errorMessage } from '../../core/log.ts';
import { statusCode } from '../../kube/errors.ts';

/** What a reconcile asks of the queue when it succeeds. */
export interface Result {
  /** Reconcile the key again after this many milliseconds (it may run sooner on a change). */
  requeueAfter?: number;
}

/** Nothing more to do until an input changes. */
export const DONE: Result = Object.freeze({});

/** An error that retrying cannot fix: logged, counted, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** Whether an error a reconcile threw is terminal: only a TerminalError is. */
export function isTerminal(err: unknown): boolean {
  return err instanceof TerminalError;
}

/**
 * Runs an API call; an answer that says the request itself is at fault (400 Bad Request, 422
 * Invalid) is thrown as a TerminalError: the same request would be refused again. Anything
 * else is thrown as it is and retried: no answer, throttling, conflicts, server errors, and
 * also 401 and 403 (RBAC and admission policies change without an event the operator watches,
 * and a reconcile that gave up on them could leave a gate open after a revocation).
 */
export async function terminalIfInvalid<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const status = statusCode(err);
    if (status === 400 || status === 422)
      throw new TerminalError(
        `the API server refused the request (${status}): ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    throw err;
  }
}

/**
 * The reconcile contract, as controller-runtime has it: a reconcile resolves to a Result (done,
 * or look again after a while) or throws. A thrown error is retried with per-key back-off,
 * except a TerminalError, which is logged, counted and not retried: the key runs again only
 * when one of its inputs changes.
 */
import { isTerminal as isTerminalAnswer } from '../../kube/errors.ts';

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

/**
 * Whether an error a reconcile threw is terminal: a TerminalError, or an answer of the API
 * server that retrying the same request cannot change (kube/errors.ts: 400, 401, 403, 404, 422;
 * RBAC changes are not events the operator watches, so a retry every 30 s for ever would only
 * fill the log). No answer, throttling, conflicts and server errors are retried.
 */
export function isTerminal(err: unknown): boolean {
  return err instanceof TerminalError || isTerminalAnswer(err);
}

/** Exponential back-off with a cap and jitter, for retrying calls to the API server. */
export interface Backoff {
  /** The delay before the next attempt (grows after each call), in milliseconds. */
  next(): number;
  /** Back to the initial delay, after a success. */
  reset(): void;
}

/** How a Backoff grows: the first delay, the cap, and the random source (for tests). */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  random?: () => number;
}

/**
 * Doubles from `initialMs` up to `maxMs`; each delay is drawn from [d/2, d] so that many
 * clients failing together (an API server restart) do not retry in step.
 */
export function exponentialBackoff(options: BackoffOptions = {}): Backoff {
  const { initialMs = 500, maxMs = 30_000, random = Math.random } = options;
  let attempt = 0;
  return {
    next: () => {
      const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
      attempt = Math.min(attempt + 1, 32);
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
    },
    reset: () => {
      attempt = 0;
    },
  };
}

/** The longest a timer is set for at once (Node's limit is 2^31-1 ms). */
const MAX_TIMER_MS = 3_600_000;

/** Processes one key; a rejection retries the key with back-off, a resolution forgets it. */
export type KeyHandler = (key: string) => Promise<void>;

/** How the queue runs its handler. */
export interface WorkQueueOptions {
  /** At most this many keys are processed at once. */
  workers: number;
  /** The first retry waits this long; each further failure doubles it. */
  baseDelayMs: number;
  /** No retry waits longer than this. */
  maxDelayMs: number;
  /** Told about every retry (for logs and metrics). */
  onRetry?: (key: string, err: unknown, delayMs: number) => void;
}

/** Defaults close to client-go's controller rate limiter, with a shorter cap. */
export const DEFAULT_QUEUE_OPTIONS: WorkQueueOptions = {
  workers: 4,
  baseDelayMs: 5,
  maxDelayMs: 30_000,
};

/**
 * A keyed work queue in the manner of client-go's: a key waits at most once (adding it again
 * while it waits changes nothing), a key is never processed by two workers at once (added
 * while in process, it runs again after), a failing key retries with per-key exponential
 * back-off up to a cap, and shutdown lets the keys in process finish.
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly handler: KeyHandler,
    private readonly options: WorkQueueOptions = DEFAULT_QUEUE_OPTIONS,
  ) {}

  /** Queues a key now (a no-op when it already waits, or after shutdown). */
  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) this.waiting.add(key);
    this.pump();
  }

  /** Queues a key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key);
    const due = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending !== undefined && pending.due <= due) return;
    clearTimeout(pending?.timer);
    this.arm(key, due);
  }

  /**
   * A timer for `key` at `due`, in steps of at most MAX_TIMER_MS: Node fires a longer delay
   * (over 2^31-1 ms, 24.8 days) after 1 ms, so a verdict that changes in a year would
   * otherwise be reconciled a thousand times a second.
   */
  private arm(key: string, due: number): void {
    const timer = setTimeout(
      () => {
        if (Date.now() < due) return this.arm(key, due);
        this.timers.delete(key);
        this.add(key);
      },
      Math.min(Math.max(0, due - Date.now()), MAX_TIMER_MS),
    );
    this.timers.set(key, { timer, due });
  }

  /** Drops a key's pending delayed add, if any (a reconcile since has seen what it waited for). */
  cancelDelayed(key: string): void {
    const pending = this.timers.get(key);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.timers.delete(key);
  }

  /** Keys waiting to be processed (not counting those in process or delayed). */
  depth(): number {
    return this.waiting.size;
  }

  /** Consecutive failures of a key (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops taking keys, cancels delayed ones, and resolves when the keys in process are done. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.clear();
    this.dirty.clear();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private pump(): void {
    while (!this.stopped && this.processing.size < this.options.workers) {
      const key = this.waiting.values().next().value;
      if (key === undefined) return;
      this.waiting.delete(key);
      this.dirty.delete(key);
      this.processing.add(key);
      const run = this.run(key);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.handler(key);
      this.failures.delete(key);
    } catch (err) {
      this.retry(key, err);
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key)) this.waiting.add(key);
      this.pump();
    }
  }

  private retry(key: string, err: unknown): void {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(this.options.baseDelayMs * 2 ** (failures - 1), this.options.maxDelayMs);
    this.options.onRetry?.(key, err, delay);
    this.addAfter(key, delay);
  }
}

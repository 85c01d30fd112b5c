/**
 * A controller, in the manner of controller-runtime: watches that only enqueue keys, a work
 * queue (per-key back-off, bounded workers, no key processed twice at once) and a reconcile
 * that reads what the caches say now. Each controller has its own queue, so a failing key of
 * one concern never retries the work of another.
 */
import { errorMessage, type Logger } from '../../core/log.ts';
import type { InformerEvent } from '../../kube/informer.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { isTerminal, type Result } from './result.ts';

/** Something that tells a controller which keys to look at: a cache's changes, mapped to keys. */
export interface Watch {
  /** Starts calling `enqueue`; returns a function that stops it. */
  start(enqueue: (key: string) => void): () => void;
}

/** A source of cache events: an informer, or an index kept from one. */
export interface EventSource<T> {
  onChange(handler: (event: InformerEvent<T>) => void): () => void;
}

/**
 * A Watch of a cache: each change enqueues the keys `map` gives for it (none, one or several;
 * a predicate is a map that gives none).
 */
export function watchCache<T>(
  source: EventSource<T>,
  map: (event: InformerEvent<T>) => Iterable<string> | string | undefined,
): Watch {
  return {
    start: (enqueue) =>
      source.onChange((event) => {
        const keys = map(event);
        if (typeof keys === 'string') enqueue(keys);
        else if (keys !== undefined) for (const key of keys) enqueue(key);
      }),
  };
}

/** A source that tells keys directly: an index kept from a cache, the published verdicts. */
export interface KeyEmitter {
  /** Returns a function that stops calling `handler`. */
  onChange(handler: (key: string) => void): () => void;
}

/** A Watch of a source of keys: each key it tells is enqueued, or what `map` makes of it. */
export function watchKeys(
  source: KeyEmitter,
  map: (key: string) => Iterable<string> | string | undefined = (key) => key,
): Watch {
  return {
    start: (enqueue) => {
      let running = true;
      const stop = source.onChange((key) => {
        if (!running) return;
        const keys = map(key);
        if (typeof keys === 'string') enqueue(keys);
        else if (keys !== undefined) for (const k of keys) enqueue(k);
      });
      return () => {
        running = false;
        stop();
      };
    },
  };
}

/** A Watch that enqueues `keys()` once at start (the keys a controller owns when it starts). */
export function atStart(keys: () => Iterable<string>): Watch {
  return {
    start: (enqueue) => {
      for (const key of keys()) enqueue(key);
      return () => undefined;
    },
  };
}

/** One controller: a name (for logs and metrics), what wakes it, and its reconcile. */
export interface ControllerSpec {
  name: string;
  watches: readonly Watch[];
  /** Resolves to a Result, or throws: retried with back-off unless terminal (result.ts). */
  reconcile(key: string): Promise<Result>;
  /** Reconciles in process at once (default 4). */
  workers?: number;
  /** Called once stopping has waited for the reconciles in process (a summary to flush). */
  stopped?(): void;
}

/** What every controller runs with. */
export interface RuntimeContext {
  metrics: RuntimeMetrics;
  log: Logger;
  /** First retry delay, doubling per failure of the key up to maxDelayMs (default 5 ms, 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told after every reconcile (the idle memory release, operator/runtime/memory.ts). */
  afterReconcile?: () => void;
}

/** A running controller. */
export interface RunningController {
  readonly name: string;
  /** Queues a key (as a watch would). */
  enqueue(key: string): void;
  /** Keys waiting. */
  depth(): number;
  /** Stops its watches and queue, and waits for the reconciles in process. */
  stop(): Promise<void>;
}

/** Starts a controller: its watches enqueue, its workers reconcile. */
export function runController(spec: ControllerSpec, context: RuntimeContext): RunningController {
  const { metrics, log } = context;
  const labels = { controller: spec.name };
  const queue: WorkQueue = new WorkQueue((key) => process(key), {
    workers: spec.workers ?? 4,
    baseDelayMs: context.baseDelayMs ?? 5,
    maxDelayMs: context.maxDelayMs ?? 30_000,
    onRetry: (key, err, delayMs) => {
      metrics.queueRetries.inc(labels);
      log.warn('reconcile failed; retrying', {
        controller: spec.name,
        key,
        delayMs,
        err: errorMessage(err),
      });
    },
  });
  const process = async (key: string) => {
    const end = metrics.reconcileDuration.startTimer(labels);
    let outcome = 'error';
    try {
      const result = await spec.reconcile(key);
      const after = result.requeueAfter;
      // A reconcile that asks for nothing more has seen what an earlier requeueAfter waited for.
      if (after === undefined) queue.cancelDelayed(key);
      else queue.addAfter(key, after);
      outcome = after === undefined ? 'success' : 'requeue';
    } catch (err) {
      if (!isTerminal(err)) throw err; // the queue retries it with back-off
      outcome = 'terminal';
      metrics.terminalErrors.inc(labels);
      log.error('reconcile failed; not retried until its inputs change', {
        controller: spec.name,
        key,
        err: errorMessage(err),
      });
    } finally {
      const seconds = end({ outcome });
      log.debug('reconciled', { controller: spec.name, key, outcome, seconds });
      metrics.queueDepth.set(labels, queue.depth());
      context.afterReconcile?.();
    }
  };
  const enqueue = (key: string) => {
    queue.add(key);
    metrics.queueDepth.set(labels, queue.depth());
  };
  const stops = spec.watches.map((watch) => watch.start(enqueue));
  return {
    name: spec.name,
    enqueue,
    depth: () => queue.depth(),
    stop: async () => {
      for (const stopWatch of stops) stopWatch();
      await queue.shutdown();
      spec.stopped?.();
    },
  };
}

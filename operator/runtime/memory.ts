import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { errorMessage, type Logger } from '../../core/log.ts';

/** V8's gc(), with the options of its gc extension. */
export type GarbageCollect = (options: {
  type: 'major';
  execution: 'sync';
  flavor: 'last-resort';
}) => void;

/** V8's gc function, exposed at run time as `--expose-gc` would expose it at start. */
export function exposedGc(): GarbageCollect {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GarbageCollect;
}

const residentMb = () => Math.round(process.memoryUsage.rss() / 1e6);

/**
 * Gives the memory of a burst of work back to the system once the operator has been idle
 * for `idleMs` after it. V8 keeps the pages its collections free for its own reuse: after
 * 1,000 Genomes converged, the heap was 37 MB but 125 MB of V8 pages stayed resident (the
 * process at 227 MB RSS, idle). Only a last-resort collection, the one V8 makes on a
 * low-memory notification, returns them (~30 ms on a heap of this size; at most once per
 * `minIntervalMs`): RSS then falls to what is live. docs/benchmarks.md has the figures.
 */
export class IdleMemoryRelease {
  private timer: NodeJS.Timeout | undefined;
  private gc: GarbageCollect | undefined;
  private disabled = false;
  private lastRelease = -Infinity;
  /** How many times memory was released. */
  releases = 0;

  constructor(
    private readonly options: {
      idleMs: number;
      /** The shortest time between two releases (work that trickles in needs none each time). */
      minIntervalMs: number;
      log: Logger;
      /** The collection to run; V8's own by default. */
      gc?: GarbageCollect;
      /** The time now, in ms (injectable for tests). */
      now?: () => number;
    },
  ) {
    // Not exposed at boot: setting --expose-gc before the first burst cost ~45 MB of malloc
    // at 1,000 Genomes (measured twice), set after it nothing.
    this.gc = options.gc;
  }

  /** Work was done: a release follows after `idleMs` with no more of it. */
  worked(): void {
    if (this.disabled) return;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => this.release(), this.options.idleMs);
    // Never the reason the process stays up.
    this.timer.unref();
  }

  /** No release after this. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private release(): void {
    this.timer = undefined;
    const now = (this.options.now ?? performance.now.bind(performance))();
    const wait = this.lastRelease + this.options.minIntervalMs - now;
    if (wait > 0) {
      this.timer = setTimeout(() => this.release(), wait);
      this.timer.unref();
      return;
    }
    this.lastRelease = now;
    const before = residentMb();
    const started = performance.now();
    try {
      this.gc ??= exposedGc();
      this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    } catch (err) {
      // A node without it: no release from now on, rather than a failure in every burst.
      this.disabled = true;
      this.options.log.warn('memory is not given back after bursts: gc() failed', {
        err: errorMessage(err),
      });
      return;
    }
    this.releases += 1;
    this.options.log.info('released memory after a burst of work', {
      rssMbBefore: before,
      rssMbAfter: residentMb(),
      gcMs: Math.round(performance.now() - started),
    });
  }
}

/**
 * Leader election gates the writers only: caches, health and metrics run in every replica; the
 * controllers run while this replica holds the Lease (kube/leader-election.ts), or always when
 * election is off. In the manner of controller-runtime's manager, in our own small code.
 */
import type { LeaderElector, LeadershipCallbacks } from '../../kube/leader-election.ts';

/** Something running that can be stopped (the controllers). */
export interface Stoppable {
  stop(): Promise<void>;
}

/** What runs while leading. */
export interface Writers {
  /** Starts the writers (after the caches have synced); undefined when stopping meanwhile. */
  start(): Promise<Stoppable | undefined>;
  /**
   * Told when this replica starts leading (true, before start) and when it has stood down
   * (false, after its writers stopped, unless it leads again by then).
   */
  onLeading?(leading: boolean): void;
}

/** The writers under leader election. */
export interface LeaderGate {
  /** Stops the writers (their reconciles in process finish), then releases the Lease. */
  stop(): Promise<void>;
}

/**
 * Runs `writers` while leading. `elect` starts the election with the callbacks it is given;
 * undefined runs the writers at once, as the only replica. Leadership lost while the writers
 * were starting stops them as soon as they have started.
 */
export function runWhileLeading(
  elect: ((callbacks: LeadershipCallbacks) => LeaderElector) | undefined,
  writers: Writers,
): LeaderGate {
  let running: Stoppable | undefined;
  let starting: Promise<void> | undefined;
  let term = 0;
  let leading = false;
  const lead = () => {
    leading = true;
    writers.onLeading?.(true);
    const current = term;
    starting = writers.start().then(async (started) => {
      if (current === term) running = started;
      else await started?.stop(); // leadership lost while starting
    });
  };
  const standDown = async () => {
    term++;
    leading = false;
    await starting; // writers still starting are stopped by lead() itself
    const stopping = running;
    running = undefined;
    await stopping?.stop();
    if (!leading) writers.onLeading?.(false);
  };
  const elector = elect?.({
    onStartedLeading: lead,
    onStoppedLeading: () => void standDown(),
  });
  if (elector === undefined) lead();
  return {
    stop: async () => {
      // In-flight reconciles finish before the Lease is released, so the next leader never
      // overlaps with this one's writes.
      try {
        await standDown();
      } finally {
        // Released even when stopping the writers failed: a standby takes over at once.
        await elector?.release();
      }
    },
  };
}

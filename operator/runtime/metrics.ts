import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How a reconcile ended, as the duration histogram labels it. */
export type Outcome = 'success' | 'requeue' | 'error' | 'terminal';

/** The metrics every controller of the runtime reports, labelled by `controller`. */
export interface RuntimeMetrics {
  /** How long one reconcile takes, by controller and outcome. */
  reconcileDuration: Histogram<'controller' | 'outcome'>;
  /** Keys waiting in a controller's queue. */
  queueDepth: Gauge<'controller'>;
  /** Reconciles retried after an error. */
  queueRetries: Counter<'controller'>;
  /** Reconciles that failed with an error retrying cannot fix (not retried). */
  terminalErrors: Counter<'controller'>;
}

/** Registers the runtime's metrics on `registry`. */
export function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  return {
    reconcileDuration: new Histogram({
      name: 'genome_reconcile_duration_seconds',
      help: 'Time to reconcile one key, by controller (genome, gate, rollout) and outcome (success, requeue, error, terminal).',
      labelNames: ['controller', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'genome_queue_depth',
      help: "Keys waiting in a controller's work queue, by controller.",
      labelNames: ['controller'],
      registers,
    }),
    queueRetries: new Counter({
      name: 'genome_queue_retries_total',
      help: 'Reconciles retried after an error, by controller.',
      labelNames: ['controller'],
      registers,
    }),
    terminalErrors: new Counter({
      name: 'genome_reconcile_terminal_errors_total',
      help: 'Reconciles that failed with an error retrying cannot fix (not retried), by controller.',
      labelNames: ['controller'],
      registers,
    }),
  };
}

import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLogger, silentLogger } from '../../core/log.ts';
import type { InformerEvent } from '../../kube/informer.ts';
import { atStart, runController, watchCache, type RunningController } from './controller.ts';
import { createRuntimeMetrics } from './metrics.ts';
import { DONE, TerminalError, terminalIfInvalid, type Result } from './result.ts';
import { metricSum } from '../../test/support/metrics.ts';

/** An answered request of the API server, as client-node's errors carry it. */
const answered = (statusCode: number) =>
  Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });

function harness(reconcile: (key: string, runs: number) => Promise<Result>) {
  const registry = new Registry();
  const metrics = createRuntimeMetrics(registry);
  const runs = new Map<string, number>();
  const handlers: ((e: InformerEvent<string>) => void)[] = [];
  const source = {
    onChange: (handler: (e: InformerEvent<string>) => void) => {
      handlers.push(handler);
      return () => handlers.splice(handlers.indexOf(handler), 1);
    },
  };
  const controller = runController(
    {
      name: 'test',
      watches: [atStart(() => ['start']), watchCache(source, (e) => e.object)],
      reconcile: (key) => {
        const n = (runs.get(key) ?? 0) + 1;
        runs.set(key, n);
        return reconcile(key, n);
      },
    },
    { metrics, log: silentLogger, baseDelayMs: 5, maxDelayMs: 20 },
  );
  const emit = (object: string) =>
    handlers.forEach((h) => h({ type: 'update', object, old: object }));
  const count = (name: string, labels: Record<string, string>) => metricSum(registry, name, labels);
  return { controller, runs, emit, count, handlers };
}

describe('runController', () => {
  let running: RunningController | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('reconciles the keys its watches give, at start and on each change', async () => {
    const h = harness(() => Promise.resolve(DONE));
    running = h.controller;
    await expect.poll(() => h.runs.get('start')).toBe(1);
    h.emit('a');
    await expect.poll(() => h.runs.get('a')).toBe(1);
    expect(
      await h.count('genome_reconcile_duration_seconds_count', {
        controller: 'test',
        outcome: 'success',
      }),
    ).toBe(2);
  });

  it('reconciles again after requeueAfter, counted as a requeue', async () => {
    const h = harness((_key, n) => Promise.resolve(n < 3 ? { requeueAfter: 10 } : DONE));
    running = h.controller;
    await expect.poll(() => h.runs.get('start')).toBe(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.runs.get('start')).toBe(3);
    expect(await h.count('genome_reconcile_duration_seconds_count', { outcome: 'requeue' })).toBe(
      2,
    );
  });

  it('drops a pending requeueAfter when a later reconcile of the key asks for nothing more', async () => {
    const h = harness((_key, n) => Promise.resolve(n === 1 ? { requeueAfter: 60 } : DONE));
    running = h.controller;
    await expect.poll(() => h.runs.get('start')).toBe(1);
    h.emit('start'); // an event: reconciled now, and done
    await expect.poll(() => h.runs.get('start')).toBe(2);
    await new Promise((r) => setTimeout(r, 120));
    expect(h.runs.get('start')).toBe(2);
  });

  it('retries an error with back-off until it succeeds', async () => {
    const h = harness((_key, n) => (n < 3 ? Promise.reject(answered(503)) : Promise.resolve(DONE)));
    running = h.controller;
    await expect.poll(() => h.runs.get('start')).toBe(3);
    expect(await h.count('genome_queue_retries_total', { controller: 'test' })).toBe(2);
    expect(await h.count('genome_reconcile_duration_seconds_count', { outcome: 'error' })).toBe(2);
  });

  it('does not retry a TerminalError, but counts it; a change runs the key again', async () => {
    const h = harness(() => Promise.reject(new TerminalError('cannot ever work')));
    running = h.controller;
    h.emit('a');
    await expect
      .poll(() => h.count('genome_reconcile_terminal_errors_total', { controller: 'test' }))
      .toBe(2);
    await new Promise((r) => setTimeout(r, 60)); // well past every back-off
    expect([...h.runs.values()]).toEqual([1, 1]);
    expect(await h.count('genome_queue_retries_total', {})).toBe(0);
    h.emit('a');
    await expect.poll(() => h.runs.get('a')).toBe(2);
  });

  it('retries a 403 (RBAC and policies change without an event) like any other answer', async () => {
    const h = harness((_key, n) => (n < 3 ? Promise.reject(answered(403)) : Promise.resolve(DONE)));
    running = h.controller;
    await expect.poll(() => h.runs.get('start')).toBe(3);
    expect(await h.count('genome_reconcile_terminal_errors_total', {})).toBe(0);
  });

  it('terminalIfInvalid: 400 and 422 become terminal; 403, 404 and 503 stay as they are', async () => {
    for (const code of [400, 422])
      await expect(terminalIfInvalid(() => Promise.reject(answered(code)))).rejects.toBeInstanceOf(
        TerminalError,
      );
    for (const code of [403, 404, 503]) {
      const err = answered(code);
      await expect(terminalIfInvalid(() => Promise.reject(err))).rejects.toBe(err);
    }
    await expect(terminalIfInvalid(() => Promise.resolve(7))).resolves.toBe(7);
  });

  it('stops its watches when stopped', async () => {
    const h = harness(() => Promise.resolve(DONE));
    await h.controller.stop();
    expect(h.handlers).toHaveLength(0);
  });

  it('calls stopped once the reconciles in process have finished', async () => {
    const seen: string[] = [];
    let finish: (() => void) | undefined;
    const controller = runController(
      {
        name: 'slow',
        watches: [atStart(() => ['a'])],
        reconcile: async () => {
          await new Promise<void>((resolve) => (finish = resolve));
          seen.push('reconciled');
          return DONE;
        },
        stopped: () => seen.push('stopped'),
      },
      { metrics: createRuntimeMetrics(new Registry()), log: silentLogger },
    );
    await expect.poll(() => finish).toBeDefined();
    const stopping = controller.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([]);
    finish?.();
    await stopping;
    expect(seen).toEqual(['reconciled', 'stopped']);
  });

  it('logs each reconcile at debug (controller, key, seconds, requeue), and nothing at info', async () => {
    const logged = async (level: 'debug' | 'info') => {
      const lines: Record<string, unknown>[] = [];
      const log = jsonLogger((line) => lines.push(JSON.parse(line)), {}, undefined, level);
      const controller = runController(
        { name: 'quiet', watches: [atStart(() => ['a'])], reconcile: async () => DONE },
        { metrics: createRuntimeMetrics(new Registry()), log },
      );
      await expect.poll(() => controller.depth()).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await controller.stop();
      return lines;
    };
    expect(await logged('info')).toEqual([]);
    expect(await logged('debug')).toMatchObject([
      { level: 'debug', msg: 'reconciled', controller: 'quiet', key: 'a', outcome: 'success' },
    ]);
  });
});

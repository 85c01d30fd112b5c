import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WorkQueue, type WorkQueueOptions } from './queue.ts';

const options = (overrides: Partial<WorkQueueOptions> = {}): WorkQueueOptions => ({
  workers: 2,
  baseDelayMs: 10,
  maxDelayMs: 40,
  ...overrides,
});

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(2);
  }
}

describe('WorkQueue', () => {
  it('a key added many times while it waits is processed once', async () => {
    const seen: string[] = [];
    const hold = gate();
    const queue = new WorkQueue(
      async (key) => {
        if (key === 'blocker') await hold.promise;
        seen.push(key);
      },
      options({ workers: 1 }),
    );
    queue.add('blocker');
    for (let i = 0; i < 5; i++) queue.add('a');
    expect(queue.depth()).toBe(1);
    hold.open();
    await until(() => seen.length === 2);
    await sleep(20);
    expect(seen).toEqual(['blocker', 'a']);
  });

  it('a key added while in process runs again afterwards, never twice at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const hold = gate();
    const queue = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        runs++;
        if (runs === 1) await hold.promise;
        running--;
      },
      options({ workers: 4 }),
    );
    queue.add('a');
    await until(() => runs === 1);
    queue.add('a');
    queue.add('a');
    await sleep(20);
    expect(runs).toBe(1);
    hold.open();
    await until(() => runs === 2);
    await sleep(20);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('no more than `workers` keys are processed at once', async () => {
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    const queue = new WorkQueue(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(5);
        running--;
        done++;
      },
      options({ workers: 3 }),
    );
    for (let i = 0; i < 20; i++) queue.add(`k${i}`);
    await until(() => done === 20);
    expect(maxRunning).toBe(3);
  });

  it('a failing key retries with doubling delays up to the cap, and a success resets it', async () => {
    const delays: number[] = [];
    let calls = 0;
    const queue = new WorkQueue(
      async () => {
        calls++;
        if (calls <= 4) throw new Error(`failure ${calls}`);
      },
      options({ onRetry: (_key, _err, delay) => delays.push(delay) }),
    );
    queue.add('a');
    await until(() => calls === 5);
    expect(delays).toEqual([10, 20, 40, 40]);
    await sleep(5);
    expect(queue.failuresOf('a')).toBe(0);
  });

  it('back-off is per key: one failing key does not slow another', async () => {
    const done: string[] = [];
    const queue = new WorkQueue(
      async (key) => {
        if (key === 'bad') throw new Error('always');
        done.push(key);
      },
      options({ baseDelayMs: 1_000, maxDelayMs: 1_000 }),
    );
    queue.add('bad');
    await until(() => queue.failuresOf('bad') === 1);
    queue.add('good');
    await until(() => done.includes('good'), 200);
    await queue.shutdown();
  });

  it('shutdown waits for keys in process and drops waiting and delayed ones', async () => {
    const hold = gate();
    const seen: string[] = [];
    let finished = false;
    const queue = new WorkQueue(
      async (key) => {
        seen.push(key);
        if (key === 'slow') await hold.promise;
        finished = true;
      },
      options({ workers: 1 }),
    );
    queue.add('slow');
    queue.add('waiting');
    queue.addAfter('later', 5);
    await until(() => seen.length === 1);
    const stopped = queue.shutdown();
    let resolved = false;
    void stopped.then(() => (resolved = true));
    await sleep(20);
    expect(resolved).toBe(false);
    hold.open();
    await stopped;
    expect(finished).toBe(true);
    queue.add('after');
    await sleep(20);
    expect(seen).toEqual(['slow']);
  });

  it('addAfter keeps the earlier of two pending delays', async () => {
    const seen: number[] = [];
    const start = Date.now();
    const queue = new WorkQueue(async () => void seen.push(Date.now() - start), options());
    queue.addAfter('a', 500);
    queue.addAfter('a', 10);
    queue.addAfter('a', 300);
    await until(() => seen.length === 1);
    expect(seen[0]).toBeLessThan(250);
    await queue.shutdown();
  });

  it('waits a year when asked to: no timer overflow (Node fires a delay over 2^31-1 ms after 1 ms)', async () => {
    const seen: string[] = [];
    const queue = new WorkQueue(async (key) => {
      seen.push(key);
    }, options());
    queue.addAfter('a-year', 365 * 24 * 3_600_000);
    await sleep(50);
    expect(seen).toEqual([]);
    await queue.shutdown();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../core/log.ts';
import { exposedGc, IdleMemoryRelease, type GarbageCollect } from './memory.ts';

const lines: string[] = [];
const log = {
  info: (msg: string) => lines.push(msg),
  warn: (msg: string) => lines.push(`warn: ${msg}`),
  error: () => undefined,
  debug: () => undefined,
} as unknown as Logger;

describe('IdleMemoryRelease', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    lines.length = 0;
  });
  afterEach(() => vi.useRealTimers());

  const releaser = (gc: GarbageCollect, minIntervalMs = 0) =>
    new IdleMemoryRelease({ idleMs: 10_000, minIntervalMs, log, gc, now: () => Date.now() });

  it('collects once, with the last-resort flavour, after an idle spell that follows work', () => {
    const calls: Parameters<GarbageCollect>[0][] = [];
    const release = releaser((o) => calls.push(o));
    vi.advanceTimersByTime(60_000);
    expect(calls).toEqual([]); // no work, nothing to give back
    release.worked();
    vi.advanceTimersByTime(9_000);
    release.worked(); // more work: the idle spell starts again
    vi.advanceTimersByTime(9_000);
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    expect(release.releases).toBe(1);
    expect(lines).toEqual(['released memory after a burst of work']);
    vi.advanceTimersByTime(60_000);
    expect(calls).toHaveLength(1); // idle since: nothing new to give back
    release.worked();
    release.stop();
    vi.advanceTimersByTime(60_000);
    expect(calls).toHaveLength(1);
  });

  it('releases at most once per interval when work trickles in', () => {
    let calls = 0;
    const release = releaser(() => (calls += 1), 60_000);
    for (let i = 0; i < 6; i += 1) {
      release.worked();
      vi.advanceTimersByTime(11_000); // just over the idle time, each time
    }
    expect(calls).toBe(1);
    vi.advanceTimersByTime(60_000); // the deferred one
    expect(calls).toBe(2);
  });

  it('logs once and turns itself off when the collection throws', () => {
    const release = releaser(() => {
      throw new Error('no gc here');
    });
    release.worked();
    expect(() => vi.advanceTimersByTime(10_000)).not.toThrow();
    expect(release.releases).toBe(0);
    expect(lines).toEqual(['warn: memory is not given back after bursts: gc() failed']);
    release.worked(); // turned off: no second failure
    vi.advanceTimersByTime(100_000);
    expect(lines).toHaveLength(1);
  });
});

describe('exposedGc', () => {
  it("is V8's own collection, callable without --expose-gc on the command line", () => {
    const gc = exposedGc();
    expect(typeof gc).toBe('function');
    expect(() => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })).not.toThrow();
  });
});

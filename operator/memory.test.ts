import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../core/log.ts';
import { exposedGc, IdleMemoryRelease, type GarbageCollect } from './memory.ts';

const lines: string[] = [];
const log = {
  info: (msg: string) => lines.push(msg),
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
} as unknown as Logger;

describe('IdleMemoryRelease', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    lines.length = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('collects once, with the last-resort flavour, after an idle spell that follows work', () => {
    const calls: Parameters<GarbageCollect>[0][] = [];
    const release = new IdleMemoryRelease({ idleMs: 10_000, log, gc: (o) => calls.push(o) });
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
});

describe('exposedGc', () => {
  it("is V8's own collection, callable without --expose-gc on the command line", () => {
    const gc = exposedGc();
    expect(typeof gc).toBe('function');
    expect(() => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })).not.toThrow();
  });
});

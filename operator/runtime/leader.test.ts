import { describe, expect, it } from 'vitest';
import type { LeadershipCallbacks } from '../../kube/leader-election.ts';
import { runWhileLeading } from './leader.ts';

/** Writers that record what happened, and an election played by the test. */
function harness(startDelayMs = 0) {
  const seen: string[] = [];
  let callbacks: LeadershipCallbacks | undefined;
  let released = false;
  const gate = runWhileLeading(
    (given) => {
      callbacks = given;
      return { isLeader: () => false, release: () => Promise.resolve(void (released = true)) };
    },
    {
      start: async () => {
        seen.push('start');
        await new Promise((r) => setTimeout(r, startDelayMs));
        return { stop: () => Promise.resolve(void seen.push('stop')) };
      },
      onLeading: (leading) => seen.push(leading ? 'leading' : 'stood down'),
    },
  );
  return { seen, gate, elect: () => callbacks!, released: () => released };
}

describe('runWhileLeading', () => {
  it('starts the writers only while leading, and stops them when the lead is lost', async () => {
    const h = harness();
    await new Promise((r) => setTimeout(r, 10));
    expect(h.seen).toEqual([]);
    h.elect().onStartedLeading();
    await expect.poll(() => h.seen).toEqual(['leading', 'start']);
    h.elect().onStoppedLeading();
    await expect.poll(() => h.seen).toEqual(['leading', 'start', 'stop', 'stood down']);
  });

  it('stops writers that were still starting when the lead was lost', async () => {
    const h = harness(50);
    h.elect().onStartedLeading();
    h.elect().onStoppedLeading();
    await expect.poll(() => h.seen.filter((s) => s === 'stop')).toEqual(['stop']);
  });

  it('on stop: the writers finish before the Lease is released', async () => {
    const h = harness();
    h.elect().onStartedLeading();
    await expect.poll(() => h.seen).toContain('start');
    await h.gate.stop();
    expect(h.seen).toContain('stop');
    expect(h.released()).toBe(true);
  });

  it('without election, runs the writers at once', async () => {
    const seen: string[] = [];
    const gate = runWhileLeading(undefined, {
      start: () => Promise.resolve({ stop: () => Promise.resolve(void seen.push('stop')) }),
      onLeading: (leading) => seen.push(String(leading)),
    });
    await expect.poll(() => seen).toEqual(['true']);
    await gate.stop();
    expect(seen).toEqual(['true', 'stop', 'false']);
  });

  it('releases the Lease even when stopping the writers fails', async () => {
    let released = false;
    let callbacks: LeadershipCallbacks | undefined;
    const gate = runWhileLeading(
      (given) => {
        callbacks = given;
        return { isLeader: () => true, release: () => Promise.resolve(void (released = true)) };
      },
      { start: () => Promise.resolve({ stop: () => Promise.reject(new Error('boom')) }) },
    );
    callbacks!.onStartedLeading();
    await new Promise((r) => setTimeout(r, 10));
    await expect(gate.stop()).rejects.toThrow('boom');
    expect(released).toBe(true);
  });
});

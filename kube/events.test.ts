import type { CoreV1Event, KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../core/log.ts';
import { eventRecorderWith, type EventApi } from './events.ts';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Logger;

/** A fake Event API that answers after `delayMs` and tracks how many calls overlap. */
function fakeApi(delayMs = 5) {
  const calls: { kind: 'create' | 'patch'; reason?: string; count?: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const call = async <T>(entry: (typeof calls)[number], result: T): Promise<T> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    calls.push(entry);
    await new Promise((r) => setTimeout(r, delayMs));
    inFlight--;
    return result;
  };
  let n = 0;
  const api = {
    createNamespacedEvent: ({ body }: { body: CoreV1Event }) =>
      call({ kind: 'create', reason: body.reason }, { metadata: { name: `e${n++}` } }),
    patchNamespacedEvent: ({ body }: { body: { count: number } }) =>
      call({ kind: 'patch', count: body.count }, {}),
  } as unknown as EventApi;
  return { api, calls, maxInFlight: () => maxInFlight };
}

const object = (uid: string): KubernetesObject => ({
  apiVersion: 'mathison.io/v1alpha1',
  kind: 'Genome',
  metadata: { name: uid, namespace: 'ns', uid },
});

describe('eventRecorder', () => {
  it('returns at once and writes queued Events one at a time, in order', async () => {
    const fake = fakeApi();
    const recorder = eventRecorderWith(fake.api, quiet);
    const reasons = ['A', 'B', 'C', 'D', 'E'];
    for (const [i, reason] of reasons.entries())
      recorder.record(object(`g${i}`), { type: 'Normal', reason, message: 'm' });
    expect(fake.calls.length).toBeLessThanOrEqual(1); // nothing waited for the API
    await recorder.flushed();
    expect(fake.calls.map((c) => c.reason)).toEqual(reasons);
    expect(fake.maxInFlight()).toBe(1);
  });

  it('bumps the count of an identical Event instead of creating another', async () => {
    const fake = fakeApi(0);
    const recorder = eventRecorderWith(fake.api, quiet);
    const note = { type: 'Warning' as const, reason: 'Revoked', message: 'same' };
    recorder.record(object('g'), note);
    recorder.record(object('g'), note);
    recorder.record(object('g'), note);
    await recorder.flushed();
    expect(fake.calls).toEqual([
      { kind: 'create', reason: 'Revoked' },
      { kind: 'patch', count: 2 },
      { kind: 'patch', count: 3 },
    ]);
  });

  it('drops what is beyond the queue bound and the per-object burst, never blocking', async () => {
    const fake = fakeApi(0);
    const recorder = eventRecorderWith(fake.api, quiet);
    for (let i = 0; i < 1500; i++)
      recorder.record(object(`g${i}`), { type: 'Normal', reason: 'Verified', message: `${i}` });
    await recorder.flushed();
    expect(fake.calls.length).toBeLessThanOrEqual(1001); // one may have left the queue at once
    expect(fake.calls.length).toBeGreaterThanOrEqual(1000);

    const burst = fakeApi(0);
    const limited = eventRecorderWith(burst.api, quiet);
    for (let i = 0; i < 40; i++)
      limited.record(object('g'), { type: 'Normal', reason: 'R', message: `${i}` });
    await limited.flushed();
    expect(burst.calls).toHaveLength(25); // client-go's spam filter: a burst of 25 per object
  });
});

import type { CoreV1Event } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { recentEvents } from './status-events.ts';

const UID = 'b1946ac9-2b6b-4b4d-9a7e-1f0c1c5a3e11';
const event = (reason: string, at: string, extra: Partial<CoreV1Event> = {}): CoreV1Event => ({
  metadata: { name: reason },
  involvedObject: { kind: 'Genome', name: 'totk', uid: UID },
  reason,
  message: reason,
  type: 'Normal',
  // client-node gives these as Date objects.
  lastTimestamp: new Date(at),
  ...extra,
});

describe('recentEvents', () => {
  it('orders by time, newest last, whatever the weekday or month names (client-node gives Dates)', () => {
    const events = [
      event('oct', '2026-10-01T00:00:00Z'), // a Thursday
      event('newest', '2026-12-05T00:00:00Z'), // a Saturday
      event('jan', '2026-01-05T00:00:00Z'), // a Monday
      event('jul', '2026-07-15T00:00:00Z'),
    ];
    expect(recentEvents(events, UID, 10).map((e) => e.reason)).toEqual([
      'jan',
      'jul',
      'oct',
      'newest',
    ]);
  });

  it('keeps the most recent ones only', () => {
    const events = Array.from({ length: 30 }, (_, i) =>
      event(`e${i}`, new Date(Date.UTC(2026, 0, 1 + i)).toISOString()),
    );
    expect(recentEvents(events, UID, 3).map((e) => e.reason)).toEqual(['e27', 'e28', 'e29']);
  });

  it("drops Events about another object of that name, or that name no object's uid", () => {
    const events = [
      event('ours', '2026-12-01T00:00:00Z'),
      event('older-genome', '2026-12-02T00:00:00Z', {
        involvedObject: { kind: 'Genome', name: 'totk', uid: 'another' },
      }),
      event('no-uid', '2026-12-03T00:00:00Z', {
        involvedObject: { kind: 'Genome', name: 'totk' },
      }),
    ];
    expect(recentEvents(events, UID, 10).map((e) => e.reason)).toEqual(['ours']);
  });

  it('says who reported each Event', () => {
    const [reported] = recentEvents(
      [event('x', '2026-12-01T00:00:00Z', { reportingComponent: 'genome-operator' })],
      UID,
      10,
    );
    expect(reported).toMatchObject({ reason: 'x', reporter: 'genome-operator' });
    const [legacy] = recentEvents(
      [event('y', '2026-12-01T00:00:00Z', { source: { component: 'someone' } })],
      UID,
      10,
    );
    expect(legacy?.reporter).toBe('someone');
  });
});

import { describe, expect, it } from 'vitest';
import { NOT_AFTER_ANNOTATION } from '../core/api.ts';
import { trustFromSecrets } from '../core/trust.ts';
import { keyPair } from '../test/builders/index.ts';
import type { EventNote } from '../kube/events.ts';
import { KeyExpiryWarnings } from './key-expiry.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-05T12:00:00Z');

const secret = (name: string, keyId: string, notAfter?: number) => ({
  metadata: {
    namespace: 'genome-system',
    name,
    annotations: (notAfter === undefined
      ? {}
      : { [NOT_AFTER_ANNOTATION]: new Date(notAfter).toISOString() }) as Record<string, string>,
  },
  data: { [keyId]: Buffer.from(keyPair(keyId).publicKey).toString('base64') },
});

describe('KeyExpiryWarnings', () => {
  it('warns once per Secret whose not-after comes within the week, on the Secret', () => {
    const notes: [string, EventNote][] = [];
    const warnings = new KeyExpiryWarnings((s, n) => notes.push([s, n]));
    const { keys } = trustFromSecrets([
      secret('soon', 'soon-1', NOW + 3 * DAY),
      secret('later', 'later-1', NOW + 30 * DAY),
      secret('forever', 'forever-1'),
      secret('past', 'past-1', NOW - DAY),
    ]);
    warnings.check(keys, NOW);
    warnings.check(keys, NOW + 1_000);
    expect(notes).toEqual([
      ['soon', expect.objectContaining({ type: 'Warning', reason: 'KeysExpiring' })],
    ]);
    expect(notes[0]?.[1].message).toContain(
      `the keys soon-1 of this trust Secret stop counting at ${new Date(NOW + 3 * DAY).toISOString()}`,
    );
    warnings.check(keys, NOW + 24 * DAY);
    expect(notes.map(([s]) => s)).toEqual(['soon', 'later']);
  });
});

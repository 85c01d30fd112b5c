import { describe, expect, it } from 'vitest';
import { Verdicts, type PublishedVerdict } from './verdicts.ts';

const entry = (overrides: Partial<PublishedVerdict> = {}): PublishedVerdict => ({
  uid: 'u1',
  generation: 1,
  keyVersion: 'k1',
  verdict: { ok: true, genomeId: 'a'.repeat(64), signers: ['alice'] },
  configMaps: new Map([['totk-aaaa', { ok: true, genomeId: 'a'.repeat(64), signers: ['alice'] }]]),
  ...overrides,
});

describe('Verdicts', () => {
  it('tells its handlers of a new or changed entry, not of the same one again', () => {
    const verdicts = new Verdicts();
    const told: string[] = [];
    verdicts.onChange((key) => told.push(key));
    verdicts.set('apps/totk', entry());
    verdicts.set('apps/totk', entry()); // equal: a reconcile that changed nothing
    expect(told).toEqual(['apps/totk']);
    verdicts.set('apps/totk', entry({ keyVersion: 'k2' }));
    verdicts.set('apps/totk', entry({ keyVersion: 'k2', configMaps: new Map() }));
    const refused = { ok: false as const, code: 'GENOME_UNTRUSTED_SIGNER' as const, message: 'no' };
    verdicts.set('apps/totk', entry({ keyVersion: 'k2', configMaps: new Map(), verdict: refused }));
    expect(told).toHaveLength(4);
    expect(verdicts.get('apps/totk')?.verdict.ok).toBe(false);
  });

  it('tells of a deleted entry once, and stops telling an unsubscribed handler', () => {
    const verdicts = new Verdicts();
    const told: string[] = [];
    const stop = verdicts.onChange((key) => told.push(key));
    verdicts.set('apps/totk', entry());
    verdicts.delete('apps/totk');
    verdicts.delete('apps/totk');
    expect(told).toEqual(['apps/totk', 'apps/totk']);
    stop();
    verdicts.set('apps/web', entry());
    expect(told).toHaveLength(2);
    expect(verdicts.get('apps/totk')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { NOT_AFTER_ANNOTATION } from '../core/api.ts';
import { validateGenome } from '../core/genome.ts';
import { DEFAULT_TRUST_POLICY } from '../core/trust-policy.ts';
import { trustFromSecrets } from '../core/trust.ts';
import { examineGenome } from '../core/verify.ts';
import { genome, keyPair, signedBy } from '../test/builders/index.ts';
import { judgeCached } from './judgement-cache.ts';

const alice = keyPair('alice');
const NOW = Date.parse('2026-12-05T12:00:00Z');

const keysOf = (notAfter?: number) =>
  trustFromSecrets([
    {
      metadata: {
        namespace: 'genome-system',
        name: 'signers',
        annotations: (notAfter === undefined
          ? {}
          : { [NOT_AFTER_ANNOTATION]: new Date(notAfter).toISOString() }) as Record<string, string>,
      },
      data: { alice: Buffer.from(alice.publicKey).toString('base64') },
    },
  ]).keys;

const examined = examineGenome(validateGenome(genome(signedBy(alice))));
if (!examined.ok) throw new Error(examined.message);
const { facts } = examined;

describe('judgeCached', () => {
  it('serves the same judgement for the same genome under the same policies, keys and labels', () => {
    const policies = [DEFAULT_TRUST_POLICY];
    const keys = keysOf();
    const context = { namespaceLabels: { env: 'dev' }, policies, keys, now: NOW };
    const first = judgeCached(facts, context);
    expect(first.ok).toBe(true);
    expect(judgeCached(facts, { ...context, now: NOW + 1 })).toBe(first);
    // Other labels, other keys or other policies: judged again.
    expect(judgeCached(facts, { ...context, namespaceLabels: { env: 'prod' } })).not.toBe(first);
    expect(judgeCached(facts, { ...context, keys: keysOf() })).not.toBe(first);
    expect(judgeCached(facts, { ...context, policies: [DEFAULT_TRUST_POLICY] })).not.toBe(first);
  });

  it('judges again once the time the judgement may change has come', () => {
    const keys = keysOf(NOW + 1_000);
    const context = { namespaceLabels: {}, policies: [DEFAULT_TRUST_POLICY], keys, now: NOW };
    expect(judgeCached(facts, context)).toMatchObject({ ok: true, changesAt: NOW + 1_000 });
    expect(judgeCached(facts, { ...context, now: NOW + 1_000 })).toMatchObject({
      ok: false,
      code: 'TRUST_KEY_OUTSIDE_WINDOW',
    });
  });
});

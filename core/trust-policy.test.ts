import { describe, expect, it } from 'vitest';
import {
  declaring,
  genome,
  keyPair,
  named,
  signedBy,
  threshold,
  withFields,
  type TestKeyPair,
} from '../test/builders/index.ts';
import { NOT_AFTER_ANNOTATION, NOT_BEFORE_ANNOTATION, TEST_KEYS_ANNOTATION } from './api.ts';
import { validateGenome } from './genome.ts';
import {
  globMatches,
  judge,
  parseDuration,
  policyReadiness,
  selects,
  type GenomeFacts,
  type TrustPolicy,
  type TrustPolicySpec,
} from './trust-policy.ts';
import { nextKeyBoundary, trustFromSecrets, type TrustedKey } from './trust.ts';
import { examineGenome, SignatureCache, verify } from './verify.ts';

const dev = keyPair('dev-1');
const prod1 = keyPair('prod-1');
const prod2 = keyPair('prod-2');
const officer = keyPair('security-officer-1');
const NOW = Date.parse('2026-12-05T12:00:00Z');

/** A trust Secret as the API server gives it (data base64), with annotations. */
const secret = (name: string, keys: TestKeyPair[], annotations: Record<string, string> = {}) => ({
  metadata: { namespace: 'genome-system', name, annotations },
  data: Object.fromEntries(
    keys.map((k) => [k.keyId, Buffer.from(k.publicKey).toString('base64')] as const),
  ),
});

const keysOf = (...secrets: ReturnType<typeof secret>[]): TrustedKey[] => {
  const set = trustFromSecrets(secrets);
  expect(set.problems).toEqual([]);
  return set.keys;
};

const KEYS = keysOf(secret('dev-signers', [dev]), secret('prod-signers', [prod1, prod2, officer]));

const factsOf = (...parts: Parameters<typeof genome>): GenomeFacts => {
  const examined = examineGenome(validateGenome(genome(...parts)));
  if (!examined.ok) throw new Error(examined.message);
  return examined.facts;
};

const policy = (name: string, spec: Partial<TrustPolicySpec>): TrustPolicy => ({
  name,
  spec: { mode: 'Enforce', ...spec },
});

const production = policy('production', {
  match: { namespaceSelector: { matchLabels: { env: 'production' } } },
  keys: { secretRefs: [{ name: 'prod-signers' }] },
  threshold: 2,
  requiredKeyIds: ['security-officer-1'],
});
const development = policy('development', {
  match: { namespaceSelector: { matchLabels: { env: 'dev' } } },
  keys: { secretRefs: [{ name: 'dev-signers' }] },
});
const POLICIES = [production, development];

const judged = (
  facts: GenomeFacts,
  env: string,
  policies = POLICIES,
  { keys = KEYS, now = NOW } = {},
) => judge(facts, { namespaceLabels: { env }, policies, keys, now });

describe('judge', () => {
  it('a dev key cannot get a genome verified in production, nor a production quorum in dev', () => {
    const devSigned = factsOf(signedBy(dev));
    expect(judged(devSigned, 'dev')).toMatchObject({ ok: true, signers: ['dev-1'] });
    const refused = judged(devSigned, 'production');
    expect(refused).toMatchObject({ ok: false, code: 'GENOME_UNTRUSTED_SIGNER' });
    expect(refused.ok || refused.message).toMatch(
      /^policy production: .*dev-1 \(not a key of this policy\)/,
    );
    const prodSigned = factsOf(signedBy(prod1, prod2, officer));
    expect(judged(prodSigned, 'production')).toMatchObject({ ok: true });
    expect(judged(prodSigned, 'dev')).toMatchObject({ ok: false, code: 'GENOME_UNTRUSTED_SIGNER' });
  });

  it('production needs 2 of 3 and the required signer', () => {
    expect(judged(factsOf(signedBy(prod1, officer)), 'production')).toMatchObject({
      ok: true,
      signers: ['prod-1', 'security-officer-1'],
    });
    expect(judged(factsOf(signedBy(prod1, prod2)), 'production')).toMatchObject({
      ok: false,
      code: 'POLICY_REQUIRED_SIGNER_MISSING',
    });
    const one = judged(factsOf(signedBy(officer)), 'production');
    expect(one).toMatchObject({ ok: false, code: 'GENOME_THRESHOLD_NOT_MET' });
    // The genome's own threshold counts too: the larger of the two.
    const three = factsOf(signedBy(prod1, officer), declaring(prod1, officer, prod2), threshold(3));
    expect(judged(three, 'production')).toMatchObject({ code: 'GENOME_THRESHOLD_NOT_MET' });
  });

  it('refuses a genome that no Enforce policy matches; an Audit one never admits', () => {
    const facts = factsOf(signedBy(dev));
    expect(judged(facts, 'staging')).toMatchObject({ ok: false, code: 'POLICY_NO_MATCH' });
    const audit = policy('audit-all', { mode: 'Audit' });
    const audited = judged(facts, 'staging', [audit]);
    expect(audited).toMatchObject({ ok: false, code: 'POLICY_NO_MATCH' });
    expect(audited.policies.map((p) => [p.policy, p.held])).toEqual([['audit-all', true]]);
  });

  it('every matching Enforce policy must hold; Warn ones that fail only warn', () => {
    const facts = factsOf(signedBy(dev));
    const all = policy('everyone', {});
    expect(judged(facts, 'production', [all, production])).toMatchObject({
      ok: false,
      code: 'GENOME_UNTRUSTED_SIGNER',
    });
    const warn = { ...production, spec: { ...production.spec, mode: 'Warn' as const } };
    const warned = judged(facts, 'production', [all, warn]);
    expect(warned).toMatchObject({ ok: true, signers: ['dev-1'] });
    expect(warned.warnings).toEqual([
      expect.stringMatching(/^policy production \(Warn\) does not hold/),
    ]);
    expect(warned.policies.map((p) => [p.policy, p.held])).toEqual([
      ['everyone', true],
      ['production', false],
    ]);
  });

  it('reads empty keyIds and secretRefs as no restriction, as their absence', () => {
    const empty = policy('empty-lists', { keys: { secretRefs: [], keyIds: [] } });
    expect(judged(factsOf(signedBy(dev)), 'x', [empty])).toMatchObject({ ok: true });
  });

  it('a Warn policy never admits on its own: with no Enforce policy matching, POLICY_NO_MATCH', () => {
    const warnOnly = { ...production, spec: { ...production.spec, mode: 'Warn' as const } };
    const judgement = judged(factsOf(signedBy(dev)), 'production', [warnOnly]);
    expect(judgement).toMatchObject({ ok: false, code: 'POLICY_NO_MATCH' });
    expect(judgement.warnings).toEqual([expect.stringMatching(/^policy production \(Warn\)/)]);
  });

  it('reads empty genomeNames as every genome, as its absence', () => {
    const empty = policy('no-names', {
      match: { genomeNames: [] },
      keys: { secretRefs: [{ name: 'prod-signers' }] },
    });
    expect(judged(factsOf(signedBy(dev)), 'x', [policy('all', {}), empty])).toMatchObject({
      ok: false,
      code: 'GENOME_UNTRUSTED_SIGNER',
    });
  });

  it('says when maxAge passes: the first millisecond at which the genome is too old', () => {
    const aged = policy('fresh', { maxAge: '24h' });
    const created = Date.parse('2026-12-05T00:00:00Z');
    const facts = factsOf(signedBy(dev), withFields({ created_at: '2026-12-05T00:00:00Z' }));
    const at = judged(facts, 'x', [aged], { now: created + 86_400_000 });
    expect(at).toMatchObject({ ok: true, changesAt: created + 86_400_001 });
    expect(judged(facts, 'x', [aged], { now: created + 86_400_001 }).ok).toBe(false);
  });

  it('matches genome names by glob', () => {
    const totk = policy('totk', { match: { genomeNames: ['TOTK_*'] } });
    expect(judged(factsOf(signedBy(dev), named('TOTK_ROOT')), 'x', [totk]).ok).toBe(true);
    expect(judged(factsOf(signedBy(dev), named('OTHER')), 'x', [totk])).toMatchObject({
      code: 'POLICY_NO_MATCH',
    });
  });

  it('a policy that cannot be read governs everything and refuses it (fail closed)', () => {
    const unreadable: TrustPolicy = { name: 'typo', spec: { mode: 'Enforce' }, problem: 'bad' };
    expect(judged(factsOf(signedBy(dev)), 'dev', [...POLICIES, unreadable])).toMatchObject({
      ok: false,
      code: 'POLICY_NOT_READY',
      message: 'policy typo: not ready: bad',
    });
  });

  it('a policy naming a missing Secret is not ready and refuses what it governs', () => {
    const broken = policy('broken', { keys: { secretRefs: [{ name: 'gone' }] } });
    expect(policyReadiness(broken, KEYS)).toMatchObject({ ready: false, message: /gone/ });
    expect(judged(factsOf(signedBy(dev)), 'x', [broken])).toMatchObject({
      ok: false,
      code: 'POLICY_NOT_READY',
    });
  });

  it('a key counts only within its Secret window, and the next boundary is known', () => {
    const keys = keysOf(
      secret('dev-signers', [dev], {
        [NOT_BEFORE_ANNOTATION]: '2026-12-01T00:00:00Z',
        [NOT_AFTER_ANNOTATION]: '2026-12-05T12:00:05Z',
      }),
    );
    const facts = factsOf(signedBy(dev));
    expect(judged(facts, 'dev', POLICIES, { keys }).ok).toBe(true);
    expect(judged(facts, 'dev', POLICIES, { keys, now: NOW + 5_000 })).toMatchObject({
      ok: false,
      code: 'TRUST_KEY_OUTSIDE_WINDOW',
    });
    expect(
      judged(facts, 'dev', POLICIES, { keys, now: Date.parse('2026-11-30T00:00:00Z') }),
    ).toMatchObject({
      code: 'TRUST_KEY_OUTSIDE_WINDOW',
    });
    expect(nextKeyBoundary(keys, NOW)).toBe(NOW + 5_000);
    expect(judged(facts, 'dev', POLICIES, { keys }).changesAt).toBe(NOW + 5_000);
    expect(nextKeyBoundary(keys, NOW + 5_000)).toBeUndefined();
    // verify() (the flat model) honours the window too.
    expect(verify(genome(signedBy(dev)), keys, { maxBytes: 1e6, now: NOW + 5_000 })).toMatchObject({
      ok: false,
      code: 'TRUST_KEY_OUTSIDE_WINDOW',
    });
  });

  it('refuses every key of a Secret whose window cannot be read (fail closed)', () => {
    for (const unreadable of ['tomorrow', '2027-02-29T00:00:00Z', '2026-12-05T24:00:00Z']) {
      const set = trustFromSecrets([secret('s', [dev], { [NOT_AFTER_ANNOTATION]: unreadable })]);
      expect(set.keys, unreadable).toEqual([]);
      expect(set.problems[0]).toMatchObject({ code: 'TRUST_KEY_INVALID', message: /not-after/ });
    }
  });

  it('test keys count only where the policy allows them', () => {
    const keys = keysOf(secret('dev-signers', [dev], { [TEST_KEYS_ANNOTATION]: 'dev-1' }));
    const facts = factsOf(signedBy(dev));
    expect(judged(facts, 'dev', POLICIES, { keys })).toMatchObject({
      ok: false,
      code: 'GENOME_TEST_KEY_IN_PRODUCTION',
    });
    const allowing = { ...development, spec: { ...development.spec, allowTestKeys: true } };
    const ok = judged(facts, 'dev', [allowing], { keys });
    expect(ok).toMatchObject({ ok: true });
    expect(ok.warnings).toEqual([expect.stringMatching(/TEST key/)]);
  });

  it('refuses a genome older than maxAge', () => {
    const aged = policy('fresh', { maxAge: '24h' });
    const old = factsOf(signedBy(dev), withFields({ created_at: '2026-12-01T00:00:00Z' }));
    expect(judged(old, 'x', [aged])).toMatchObject({ ok: false, code: 'GENOME_TOO_OLD' });
    const recent = factsOf(signedBy(dev), withFields({ created_at: '2026-12-05T00:00:00Z' }));
    expect(judged(recent, 'x', [aged])).toMatchObject({
      ok: true,
      changesAt: Date.parse('2026-12-06T00:00:00Z') + 1,
    });
  });

  it('refuses an impersonated key id whatever the policies say', () => {
    const mallory = { ...keyPair('prod-1') };
    const facts = factsOf(signedBy(mallory));
    expect(judged(facts, 'x', [policy('all', {})])).toMatchObject({
      ok: false,
      code: 'GENOME_UNTRUSTED_SIGNER',
      message: /different public key/,
    });
  });

  it('re-judges under new keys or policies without verifying a signature again', () => {
    const cache = new SignatureCache();
    const document = validateGenome(genome(signedBy(prod1, officer)));
    const first = examineGenome(document, { maxBytes: 1e6, signatures: cache });
    const again = examineGenome(document, { maxBytes: 1e6, signatures: cache });
    expect(cache.verifications).toBe(2);
    expect(first.ok && again.ok && again.facts).toEqual(first.ok && first.facts);
  });
});

describe('selects, globMatches, parseDuration', () => {
  it('selects as Kubernetes does', () => {
    const labels = { env: 'production', team: 'a' };
    expect(selects({}, labels)).toBe(true);
    expect(selects({ matchLabels: { env: 'production' } }, labels)).toBe(true);
    expect(selects({ matchLabels: { env: 'dev' } }, labels)).toBe(false);
    const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) => ({
      matchExpressions: [{ key: 'team', operator, values }],
    });
    expect(selects(expr('In', ['a', 'b']), labels)).toBe(true);
    expect(selects(expr('NotIn', ['a']), labels)).toBe(false);
    expect(selects(expr('Exists'), labels)).toBe(true);
    expect(selects(expr('DoesNotExist'), labels)).toBe(false);
    expect(selects(expr('NotIn', ['a']), {})).toBe(true);
    expect(selects({ matchLabels: { constructor: 'x' } }, {})).toBe(false);
  });

  it('matches globs on the whole name, escaping the rest', () => {
    expect(globMatches('TOTK_*', 'TOTK_ROOT')).toBe(true);
    expect(globMatches('TOTK_*', 'XTOTK_ROOT')).toBe(false);
    expect(globMatches('A?C', 'ABC')).toBe(true);
    expect(globMatches('a.c', 'abc')).toBe(false);
    expect(globMatches('*', '')).toBe(true);
  });

  it('reads Go durations', () => {
    expect(parseDuration('8760h')).toBe(8760 * 3_600_000);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('500ms')).toBe(500);
    for (const bad of ['', '10', '-1h', '1d', 'h']) expect(parseDuration(bad), bad).toBeUndefined();
  });
});

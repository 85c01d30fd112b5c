import { describe, expect, it } from 'vitest';
import type { Genome } from '../core/genome.ts';
import {
  annotated,
  declaring,
  genome,
  genomeResource,
  inNamespace,
  keyPair,
  signedBy,
  threshold,
  trusted,
  version,
} from '../test/builders/index.ts';
import { MAX_GENOME_BYTES, SignatureCache, verify } from '../core/verify.ts';
import {
  DEFAULT_TRUST_POLICY,
  type TrustPolicy,
  type TrustPolicySpec,
} from '../core/trust-policy.ts';
import { trustFromSecrets, type TrustedKey } from '../core/trust.ts';
import type { AdmissionRequest } from './admission.ts';
import { ALLOW_DOWNGRADE_ANNOTATION } from '../core/api.ts';
import { decideGenomeAdmission, type AdmissionTrust } from './validate-genome.ts';

const alice = keyPair('alice');
const keys = trusted(alice);
const NOW = Date.parse('2026-12-05T12:00:00Z');

/** A current view (the webhook's usual state) holding `keys` and the default policy. */
function view(over: Partial<AdmissionTrust> = {}): AdmissionTrust {
  return {
    keys: () => keys,
    policies: () => [DEFAULT_TRUST_POLICY],
    namespaceLabels: () => ({}),
    synced: () => true,
    ...over,
  };
}

const withKeys = (k: readonly TrustedKey[]) => view({ keys: () => k });

const options = (signatures = new SignatureCache()) => ({
  maxBytes: MAX_GENOME_BYTES,
  signatures,
  now: NOW,
});

const signed = (v = '1.2.3') => genome(signedBy(alice), version(v));
const object = (g: unknown, annotations?: Record<string, string>) =>
  genomeResource('g', g, inNamespace('ns'), ...(annotations ? [annotated(annotations)] : []));

function request(overrides: Partial<AdmissionRequest>): AdmissionRequest {
  return {
    uid: 'uid-1',
    kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
    operation: 'CREATE',
    namespace: 'ns',
    name: 'g',
    object: object(signed()),
    ...overrides,
  };
}

const decide = (r: AdmissionRequest, trust: AdmissionTrust = view()) =>
  decideGenomeAdmission(r, trust, options()).response;

describe('decideGenomeAdmission while the trusted keys are not current', () => {
  it('refuses a genome it would verify (TRUST_KEYS_STALE), and still lets an unchanged genome through', () => {
    const stale = view({ synced: () => false });
    const create = request({ object: object(signed()) });
    const refused = decide(create, stale);
    expect(refused.allowed).toBe(false);
    expect(refused.status?.message).toMatch(
      /^TRUST_KEYS_STALE: .*trusted keys, the trust policies or the namespaces' labels are not current/,
    );
    const relabel = request({
      operation: 'UPDATE',
      object: object(signed(), { team: 'x' }),
      oldObject: object(signed()),
    });
    expect(decide(relabel, stale).allowed).toBe(true);
  });
});

describe('decideGenomeAdmission', () => {
  it('admits a genome signed by a trusted key, echoing the uid', () => {
    expect(decide(request({}))).toEqual({ uid: 'uid-1', allowed: true });
  });

  it('denies a tampered genome with the code, the field under spec.genome and what to do', () => {
    const genome: Genome = { ...signed(), name: 'TAMPERED' };
    const response = decide(request({ object: object(genome) }));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(403);
    expect(response.status?.message).toMatch(
      /^GENOME_INVALID_SIGNATURE: spec\.genome\.signature: .+What to do: /,
    );
  });

  it('names the field of a schema problem under spec.genome', () => {
    const genome = { ...signed(), authority: { ...signed().authority, threshold: 0 } };
    const response = decide(request({ object: object(genome) }));
    expect(response.status?.message).toMatch(
      /^GENOME_INVALID_SCHEMA: spec\.genome\.authority\.threshold: must be at least 1/,
    );
  });

  it('denies a Genome without spec.genome as GENOME_MISSING', () => {
    const response = decide(request({ object: { metadata: { name: 'g' }, spec: {} } }));
    expect(response.status?.message).toMatch(/^GENOME_MISSING/);
  });

  it('denies an update that lowers the version', () => {
    const response = decide(
      request({
        operation: 'UPDATE',
        oldObject: object(signed('2.0.0')),
        object: object(signed('1.9.9')),
      }),
    );
    expect(response.status?.message).toMatch(
      /^GENOME_DOWNGRADE: spec\.genome\.version: version 1\.9\.9 is lower than the stored 2\.0\.0/,
    );
  });

  it('admits a downgrade that carries the allow annotation, with a warning', () => {
    const newer = object(signed('1.9.9'), { [ALLOW_DOWNGRADE_ANNOTATION]: 'true' });
    const response = decide(
      request({ operation: 'UPDATE', oldObject: object(signed('2.0.0')), object: newer }),
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings?.join()).toMatch(/version lowered from 2\.0\.0 to 1\.9\.9/);
  });

  it('admits an upgrade', () => {
    const response = decide(
      request({
        operation: 'UPDATE',
        oldObject: object(signed('1.2.3')),
        object: object(signed('1.3.0')),
      }),
    );
    expect(response.allowed).toBe(true);
  });

  it('admits an update that leaves spec.genome unchanged without verifying again', () => {
    const genome = signed();
    const result = decideGenomeAdmission(
      request({
        operation: 'UPDATE',
        oldObject: object(genome),
        object: object(genome, { note: 'x' }),
      }),
      withKeys([]), // no trusted keys at all: a re-verification would refuse
      options(),
    );
    expect(result).toMatchObject({ response: { allowed: true }, skipped: 'spec.genome unchanged' });
  });

  it('admits a Genome with spec.rollout, and an update that changes only spec.rollout without verifying again', () => {
    const genome = signed();
    const withRollout = (rollout: string) => ({ ...object(genome), spec: { genome, rollout } });
    expect(decide(request({ object: withRollout('Manual') }))).toEqual({
      uid: 'uid-1',
      allowed: true,
    });
    const result = decideGenomeAdmission(
      request({
        operation: 'UPDATE',
        oldObject: withRollout('Automatic'),
        object: withRollout('Manual'),
      }),
      withKeys([]), // no trusted keys at all: a re-verification would refuse
      options(),
    );
    expect(result).toMatchObject({ response: { allowed: true }, skipped: 'spec.genome unchanged' });
  });

  it('refuses every genome when no keys are trusted', () => {
    const response = decide(request({}), withKeys([]));
    expect(response.status?.message).toMatch(/^TRUST_KEYS_MISSING/);
  });

  it('passes warnings through, for a genome signed by a test key', () => {
    const response = decide(request({}), withKeys(trusted({ ...alice, test: true })));
    expect(response).toMatchObject({
      allowed: true,
      warnings: [expect.stringMatching(/TEST key/)],
    });
  });

  it('denies objects of another kind rather than admitting them unseen', () => {
    const response = decide(request({ kind: { group: '', version: 'v1', kind: 'ConfigMap' } }));
    expect(response.allowed).toBe(false);
  });
});

describe('decideGenomeAdmission validates spec.genome once and, under the default policy, refuses as verify does', () => {
  const genomes: [string, unknown][] = [
    ['signed', signed('2.0.0')],
    ['tampered', { ...signed('2.0.0'), name: 'TAMPERED' }],
    ['schema problem', { ...signed('2.0.0'), parents: 'x' }],
    ['unsigned', genome(declaring(alice), version('2.0.0'))],
    ['by an untrusted key', genome(declaring(keyPair('eve')), signedBy(keyPair('eve')))],
    ['not an object', 'text'],
  ];

  it.each(genomes)('CREATE and a changed UPDATE: the code of verify (%s)', (_name, genome) => {
    const flat = verify(genome, keys);
    const expected = flat.ok ? { ok: true } : { ok: false, code: flat.code };
    const create = request({ object: object(genome) });
    const update = request({
      operation: 'UPDATE',
      oldObject: object(signed('1.0.0')),
      object: object(genome),
    });
    for (const r of [create, update]) {
      expect(decideGenomeAdmission(r, view(), options()).verdict).toMatchObject(expected);
    }
  });
});

describe('decideGenomeAdmission on hostile updates', () => {
  it('refuses an update whose genome is nested 10,000 levels deep, without throwing', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i += 1) deep = { x: deep };
    const hostile = { ...signed(), x: deep };
    const r = request({ operation: 'UPDATE', oldObject: object(hostile), object: object(hostile) });
    const result = decideGenomeAdmission(r, view(), options());
    expect(result.response.allowed).toBe(false);
    expect(result.response.status?.message).toMatch(/^GENOME_INVALID_SCHEMA: spec\.genome\.x/);
  });
});

describe('denials show genome text escaped, clipped, and never a private key', () => {
  const messageFor = (genome: unknown) =>
    decide(request({ object: object(genome) })).status?.message ?? '';

  it('escapes ESC, CR and bidi controls from a field name', () => {
    const message = messageFor({ ...signed(), '\u001b[2J\rOK\u202e': 1 });
    expect(message).toMatch(/^GENOME_INVALID_SCHEMA: spec\.genome\./);
    expect([...message].filter((c) => '\u001b\r\u202e'.includes(c))).toEqual([]);
    expect(message).toContain('\\u{1b}[2J\\u{d}OK\\u{202e}');
  });

  it('clips a megabyte field name', () => {
    const message = messageFor({ ...signed(), ['f'.repeat(1_000_000)]: 1 });
    expect(message).toContain('…[1000000 characters]');
    expect(message.length).toBeLessThan(1500);
  });

  it('clips a 3.9 MB version', () => {
    const message = messageFor({ ...signed(), version: `x${'9'.repeat(3_900_000)}` });
    expect(message).toMatch(/^GENOME_INVALID_SCHEMA: spec\.genome\.version: /);
    expect(message.length).toBeLessThan(1500);
  });

  it('names a private key pasted into public_key, without printing it', () => {
    const leaked = alice.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const g = signed();
    const genome = {
      ...g,
      authority: { ...g.authority, signers: [{ ...g.authority.signers[0]!, public_key: leaked }] },
    };
    const message = messageFor(genome);
    expect(message).toMatch(
      /^PRIVATE_KEY_EXPOSED: spec\.genome\.authority\.signers\[0\]\.public_key: .*PRIVATE key/,
    );
    expect(message).not.toContain(leaked.slice(16, 48));
  });
});

describe('decideGenomeAdmission under trust policies', () => {
  const dev = keyPair('dev-1');
  const prod1 = keyPair('prod-1');
  const prod2 = keyPair('prod-2');
  const officer = keyPair('security-officer-1');
  /** A trust Secret as the API server gives it (data base64). */
  const secret = (name: string, pairs: (typeof dev)[]) => ({
    metadata: { namespace: 'genome-system', name },
    data: Object.fromEntries(
      pairs.map((k) => [k.keyId, Buffer.from(k.publicKey).toString('base64')] as const),
    ),
  });
  const policyKeys = trustFromSecrets([
    secret('dev-signers', [dev]),
    secret('prod-signers', [prod1, prod2, officer]),
  ]).keys;
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
  const labelsOf: Record<string, Record<string, string>> = {
    prod: { env: 'production' },
    dev: { env: 'dev' },
  };
  const policyView = (policies: TrustPolicy[], asked: string[] = []) =>
    view({
      keys: () => policyKeys,
      policies: () => policies,
      namespaceLabels: (ns) => {
        asked.push(ns);
        return labelsOf[ns] ?? {};
      },
    });
  const signedIn = (ns: string, g: Genome) =>
    request({ namespace: ns, object: genomeResource('g', g, inNamespace(ns)) });
  const byDev = genome(signedBy(dev));
  const byProd = genome(declaring(prod1, prod2, officer), signedBy(prod1, officer), threshold(1));

  it('refuses TRUST_KEYS_STALE in a namespace whose labels are not known yet, rather than judge it unlabelled', () => {
    const unknown = view({
      keys: () => policyKeys,
      policies: () => [development],
      namespaceLabels: () => undefined,
    });
    const response = decide(signedIn('new-ns', byDev), unknown);
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toMatch(
      /TRUST_KEYS_STALE: .*namespace .*new-ns.* are not known yet/,
    );
  });

  it("judges under the labels of the request's namespace", () => {
    const asked: string[] = [];
    const trust = policyView([production, development], asked);
    expect(decide(signedIn('dev', byDev), trust).allowed).toBe(true);
    expect([...new Set(asked)]).toEqual(['dev']); // known first (trustCurrent), then judged
    expect(decide(signedIn('prod', byProd), trust).allowed).toBe(true);
  });

  it("refuses a dev key's genome in production, and the reverse, naming the policy", () => {
    const trust = policyView([production, development]);
    expect(decide(signedIn('prod', byDev), trust).status?.message).toMatch(
      /^GENOME_UNTRUSTED_SIGNER: .*policy production: /,
    );
    expect(decide(signedIn('dev', byProd), trust).status?.message).toMatch(
      /^GENOME_UNTRUSTED_SIGNER: .*policy development: /,
    );
  });

  it('refuses 2 of 3 without the required signer (POLICY_REQUIRED_SIGNER_MISSING)', () => {
    const twoWithout = genome(declaring(prod1, prod2, officer), signedBy(prod1, prod2));
    expect(decide(signedIn('prod', twoWithout), policyView([production])).status?.message).toMatch(
      /^POLICY_REQUIRED_SIGNER_MISSING: .*policy production: required signer\(s\) security-officer-1/,
    );
  });

  it('refuses a genome no Enforce policy matches (POLICY_NO_MATCH)', () => {
    const audit = policy('audit-all', { mode: 'Audit' });
    const response = decide(signedIn('elsewhere', byDev), policyView([production, audit]));
    expect(response.status?.message).toMatch(/^POLICY_NO_MATCH: /);
  });

  it('refuses under a policy that names a missing Secret (POLICY_NOT_READY)', () => {
    const missing = policy('missing', { keys: { secretRefs: [{ name: 'nowhere' }] } });
    expect(decide(signedIn('dev', byDev), policyView([missing])).status?.message).toMatch(
      /^POLICY_NOT_READY: .*policy missing: not ready: trust Secret\(s\) "nowhere"/,
    );
  });

  it('admits when a Warn policy fails, with one short warning that names it and its code', () => {
    const warn = { ...production, name: 'prod-warn', spec: { ...production.spec, mode: 'Warn' } };
    // Beside an Enforce policy that holds: a Warn policy never admits on its own.
    const everyone = policy('everyone', { mode: 'Enforce' });
    const response = decide(signedIn('prod', byDev), policyView([everyone, warn as TrustPolicy]));
    expect(response.allowed).toBe(true);
    expect(response.warnings).toEqual([
      'GenomeTrustPolicy prod-warn (Warn) does not hold: GENOME_UNTRUSTED_SIGNER',
    ]);
  });

  it('keeps Warn warnings few and short, each escaped and within 120 characters', () => {
    const warns = Array.from({ length: 10 }, (_, i) =>
      policy(`\u001b[2J${'w'.repeat(200)}-${i}`, {
        mode: 'Warn',
        keys: { secretRefs: [{ name: 'prod-signers' }] },
      }),
    );
    const response = decide(signedIn('dev', byDev), policyView([development, ...warns]));
    expect(response.allowed).toBe(true);
    const warnings = response.warnings ?? [];
    expect(warnings.length).toBeLessThanOrEqual(4);
    expect(warnings.at(-1)).toMatch(/7 more GenomeTrustPolicies \(Warn\) do not hold/);
    for (const w of warnings) {
      expect(w.length).toBeLessThanOrEqual(120);
      expect(w).not.toContain('\u001b');
    }
  });

  it('admits when an Audit policy fails, with no warning', () => {
    const audit = policy('audit-prod', {
      mode: 'Audit',
      keys: { secretRefs: [{ name: 'prod-signers' }] },
    });
    expect(decide(signedIn('dev', byDev), policyView([development, audit]))).toEqual({
      uid: 'uid-1',
      allowed: true,
    });
  });

  it('verifies no signature again when the same document is admitted again', () => {
    const signatures = new SignatureCache();
    const trust = policyView([production, development]);
    const first = decideGenomeAdmission(signedIn('prod', byProd), trust, options(signatures));
    expect(first.response.allowed).toBe(true);
    const done = signatures.verifications;
    expect(done).toBe(2);
    const again = decideGenomeAdmission(signedIn('dev', byProd), trust, options(signatures));
    expect(again.response.status?.message).toMatch(/^GENOME_UNTRUSTED_SIGNER/);
    decideGenomeAdmission(signedIn('prod', byProd), trust, options(signatures));
    expect(signatures.verifications).toBe(done);
  });
});

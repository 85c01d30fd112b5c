import type { PolicyResult } from '../core/trust-policy.ts';
import { describe, expect, it } from 'vitest';
import type { GenomeResource, GenomeStatus } from '../core/api.ts';
import { configMapDataDigest, configMapName } from '../core/render.ts';
import {
  atGeneration,
  genome,
  genomeResource,
  inNamespace,
  keyPair,
  signedBy,
  trusted,
  withStatus,
  withUid,
} from '../test/builders/index.ts';
import type { TrustedKey } from '../core/trust.ts';
import { verify } from '../core/verify.ts';
import { decide, statusFingerprint, type DecideInput } from './decide.ts';
import type { CachedConfigMap } from './cached.ts';

const alice = keyPair('alice');
const bob = keyPair('bob');
const now = new Date('2026-12-01T12:00:00Z');
const signed = genome(signedBy(alice));
const testAlice = trusted({ ...alice, test: true });

/** A Genome resource at generation 2 with the given status. */
function resource(status?: GenomeStatus, spec: unknown = signed): GenomeResource {
  return genomeResource(
    'totk',
    spec,
    inNamespace('apps'),
    withUid('uid-1'),
    atGeneration(2),
    withStatus(status),
  );
}

/** The input for a Genome verified against `keys`, overridable. */
function input(
  overrides: Partial<DecideInput> = {},
  keys: TrustedKey[] = trusted(alice),
): DecideInput {
  const base = resource(overrides.genome?.status);
  const g = overrides.genome ?? base;
  return {
    genome: g,
    verdict: verify(g.spec.genome, keys),
    keys,
    production: false,
    owned: [],
    mounted: new Set(),
    earlier: new Map(),
    lastWrittenStatus: undefined,
    now,
    ...overrides,
  };
}

/** The plan of a first reconcile, to build "already reconciled" states from. */
const first = decide(input());
const id = first.status.genomeId!;
const published = configMapName('totk', id);
const publishedCm: CachedConfigMap = {
  metadata: { ...first.apply!.metadata, uid: 'cm-1' },
  immutable: true,
  dataDigest: configMapDataDigest(first.apply!.data),
};

describe('decide', () => {
  it('a verified genome is published and its status says Verified and Ready', () => {
    expect(first.apply?.metadata.name).toBe(published);
    expect(first.status).toMatchObject({
      observedGeneration: 2,
      genomeId: id,
      shortId: id.slice(0, 12),
      verifiedSigners: ['alice'],
      configMapName: published,
    });
    expect(first.status.conditions).toEqual([
      expect.objectContaining({
        type: 'Verified',
        status: 'True',
        reason: 'Verified',
        observedGeneration: 2,
      }),
      expect.objectContaining({
        type: 'Ready',
        status: 'True',
        reason: 'Published',
        observedGeneration: 2,
      }),
    ]);
    expect(first.writeStatus).toBe(true);
    expect(first.events.map((e) => e.reason)).toEqual(['Verified']);
  });

  it('lists the policies in the status; a Warn or Audit policy that newly fails is one Warning Event, once', () => {
    const warn: PolicyResult = {
      policy: 'strict',
      mode: 'Warn',
      held: false,
      code: 'GENOME_THRESHOLD_NOT_MET',
      message: '1 distinct trusted signer(s) (alice) signed; 2 required',
      signers: [{ keyId: 'alice', counted: true, state: 'counted' }],
    };
    const held: PolicyResult = { ...warn, policy: 'default', mode: 'Enforce', held: true };
    const { code: _code, ...heldWithoutCode } = held;
    const plan = decide(input({ policies: [heldWithoutCode, warn] }));
    expect(plan.status.policies).toEqual([
      {
        policy: 'default',
        mode: 'Enforce',
        held: true,
        message: held.message,
        signers: held.signers,
      },
      {
        policy: 'strict',
        mode: 'Warn',
        held: false,
        reason: 'GENOME_THRESHOLD_NOT_MET',
        message: warn.message,
        signers: warn.signers,
      },
    ]);
    expect(plan.events.filter((e) => e.reason === 'PolicyNotHeld')).toEqual([
      {
        type: 'Warning',
        reason: 'PolicyNotHeld',
        message: `policy strict (Warn) does not hold: GENOME_THRESHOLD_NOT_MET: ${warn.message}`,
      },
    ]);
    const again = decide(
      input({
        genome: resource(plan.status),
        owned: [publishedCm],
        policies: [heldWithoutCode, warn],
      }),
    );
    expect(again.events).toEqual([]);
  });

  it('announces a verdict that time alone will refuse within a week: TrustExpiring and one Event; looks again a week ahead of a later one', () => {
    const DAY = 86_400_000;
    const expiring = {
      ok: false as const,
      code: 'TRUST_KEY_OUTSIDE_WINDOW' as const,
      message:
        'none of the signers (alice) is a trusted key; not counted: alice (outside its validity window)',
    };
    const soon = now.getTime() + 3 * DAY;
    const plan = decide(input({ changesAt: soon, expiring }));
    const condition = plan.status.conditions?.find((c) => c.type === 'TrustExpiring');
    expect(condition).toMatchObject({ status: 'True', reason: 'TRUST_KEY_OUTSIDE_WINDOW' });
    expect(condition?.message).toContain(
      `at ${new Date(soon).toISOString()} the genome turns refused`,
    );
    expect(plan.events.filter((e) => e.reason === 'TrustExpiring')).toHaveLength(1);
    expect(plan.requeueAfter).toBe(3 * DAY + 1);
    const again = decide(
      input({ genome: resource(plan.status), owned: [publishedCm], changesAt: soon, expiring }),
    );
    expect(again.events).toEqual([]);
    expect(again.writeStatus).toBe(false);
    // A month ahead: no condition yet, and a look when it comes within the week.
    const later = decide(input({ changesAt: now.getTime() + 30 * DAY }));
    expect(later.status.conditions?.map((c) => c.type)).toEqual(['Verified', 'Ready']);
    expect(later.requeueAfter).toBe(23 * DAY);
  });

  it('a second reconcile of the same world writes nothing and emits nothing', () => {
    const plan = decide(input({ genome: resource(first.status), owned: [publishedCm] }));
    expect(plan.writeStatus).toBe(false);
    expect(plan.apply).toBeUndefined();
    expect(plan.events).toEqual([]);
    expect(plan.replace).toBe(false);
    expect(plan.remove).toEqual([]);
    expect(plan.inPlace).toBe(true);
  });

  it('a genome signed by an untrusted key is refused with the code and nothing is published', () => {
    const plan = decide(input({}, trusted(bob)));
    expect(plan.apply).toBeUndefined();
    expect(plan.status.configMapName).toBeUndefined();
    expect(plan.status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Verified', 'False', 'GENOME_UNTRUSTED_SIGNER'],
      ['Ready', 'False', 'GENOME_UNTRUSTED_SIGNER'],
    ]);
    expect(plan.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'Refused' })]);
  });

  it('a revoked key turns a verified genome False, emits Revoked and removes its unmounted ConfigMap', () => {
    const plan = decide(
      input({ genome: resource(first.status), owned: [publishedCm] }, trusted(bob)),
    );
    expect(plan.status.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'GENOME_UNTRUSTED_SIGNER',
      lastTransitionTime: '2026-12-01T12:00:00Z',
    });
    expect(plan.events.map((e) => e.reason)).toEqual(['Revoked']);
    expect(plan.remove).toEqual([published]);
  });

  it('a ConfigMap a pod still mounts is kept', () => {
    const plan = decide(
      input(
        { genome: resource(first.status), owned: [publishedCm], mounted: new Set([published]) },
        trusted(bob),
      ),
    );
    expect(plan.remove).toEqual([]);
  });

  it('an older ConfigMap is removed once no pod mounts it, and the current one kept', () => {
    const old: CachedConfigMap = {
      metadata: { name: 'totk-0123456789ab' },
      immutable: true,
      dataDigest: configMapDataDigest({}),
    };
    const plan = decide(input({ genome: resource(first.status), owned: [old, publishedCm] }));
    expect(plan.remove).toEqual(['totk-0123456789ab']);
  });

  it('a published ConfigMap that was deleted is applied again with a Republished Event', () => {
    const plan = decide(input({ genome: resource(first.status), owned: [] }));
    expect(plan.apply?.metadata.name).toBe(published);
    expect(plan.events.map((e) => e.reason)).toEqual(['Republished']);
  });

  it('a ConfigMap whose labels were removed is applied again, without an Event', () => {
    const unlabelled = { ...publishedCm, metadata: { ...publishedCm.metadata, labels: {} } };
    const plan = decide(input({ genome: resource(first.status), owned: [unlabelled] }));
    expect(plan.apply?.metadata.name).toBe(published);
    expect(plan.replace).toBe(false);
  });

  it('a ConfigMap of that name with other content is replaced', () => {
    const tampered = { ...publishedCm, dataDigest: configMapDataDigest({ 'genome.json': '{}' }) };
    expect(decide(input({ genome: resource(first.status), owned: [tampered] })).replace).toBe(true);
    const mutable = { ...publishedCm, immutable: false };
    expect(decide(input({ genome: resource(first.status), owned: [mutable] })).replace).toBe(true);
    const plan = decide(input({ genome: resource(first.status), owned: [tampered] }));
    expect(plan.replace).toBe(true);
    expect(plan.events.map((e) => e.reason)).toEqual(['Republished']);
    // No pod's gate opens on it until it is put back.
    expect(plan.inPlace).toBe(false);
    expect(decide(input({ genome: resource(first.status), owned: [] })).inPlace).toBe(false);
  });

  it('a repeated refusal emits no second Event and keeps lastTransitionTime', () => {
    const refused = decide(input({}, trusted(bob)));
    const later = {
      ...input({ genome: resource(refused.status) }, trusted(bob)),
      now: new Date('2026-12-02T00:00:00Z'),
    };
    const plan = decide(later);
    expect(plan.events).toEqual([]);
    expect(plan.writeStatus).toBe(false);
  });

  it('in production mode a genome met only by test keys is refused with its own code', () => {
    const plan = decide({ ...input({}, testAlice), production: true });
    expect(plan.apply).toBeUndefined();
    expect(plan.status.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'GENOME_TEST_KEY_IN_PRODUCTION',
    });
  });

  it('outside production mode the same genome is verified, with the test-key warning in the message', () => {
    const plan = decide(input({}, testAlice));
    expect(plan.status.conditions?.[0]).toMatchObject({ status: 'True' });
    expect(plan.status.conditions?.[0]?.message).toMatch(/TEST key/);
  });

  it('a schema-invalid genome is refused without a genome id', () => {
    const broken = resource(undefined, { ...signed, extra: 1 });
    const plan = decide(input({ genome: broken }));
    expect(plan.status.genomeId).toBeUndefined();
    expect(plan.status.conditions?.[0]).toMatchObject({ reason: 'GENOME_INVALID_SCHEMA' });
  });

  it('control characters from the genome are escaped in the condition message and the Event', () => {
    const hostile = genome(signedBy(alice));
    const verdict = {
      ok: false as const,
      code: 'GENOME_INVALID_SCHEMA' as const,
      message: 'bad \u001b[31mred\u202e',
    };
    const plan = decide({ ...input({ genome: resource(undefined, hostile) }), verdict });
    const text = `${plan.status.conditions?.[0]?.message} ${plan.events[0]?.message}`;
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('\\u{1b}[31mred\\u{202e}');
  });
});

describe('decide: what the gates count, and when clean-up goes', () => {
  it('counts the current ConfigMap only once it is in place', () => {
    expect([...first.published.keys()]).toEqual([]);
    const plan = decide(input({ genome: resource(first.status), owned: [publishedCm] }));
    expect([...plan.published.keys()]).toEqual([published]);
    expect(plan.published.get(published)).toMatchObject({ ok: true, genomeId: id });
  });

  it("counts an older ConfigMap's genome only as the Genome's own: named after its id, same genome name", () => {
    const older = verify(resource().spec.genome, trusted(alice));
    const plan = decide(
      input({
        genome: resource(first.status),
        owned: [publishedCm],
        earlier: new Map([
          ['not-its-name', older],
          [published, older], // the current one is never taken from `earlier`
        ]),
      }),
    );
    expect(plan.published.get('not-its-name')).toMatchObject({
      ok: false,
      code: 'GENOME_NOT_VERIFIED',
    });
    expect(plan.published.get(published)).toMatchObject({ ok: true });
  });

  it('a refused Genome counts no ConfigMap at all', () => {
    const plan = decide(
      input({ genome: resource(first.status), owned: [publishedCm] }, trusted(bob)),
    );
    expect(plan.published.size).toBe(0);
  });

  it('clean-up waits for a status this operator has not written yet, and goes once it has', () => {
    const revoked = input({ genome: resource(first.status), owned: [publishedCm] }, trusted(bob));
    const plan = decide(revoked);
    expect(plan.writeStatus).toBe(true);
    expect(plan.deferCleanUp).toBe(true);
    expect(plan.requeueAfter).toBeGreaterThan(0);
    // Written once, never shown by the cache: the next look cleans up all the same.
    const again = decide({ ...revoked, lastWrittenStatus: statusFingerprint(plan.status) });
    expect(again.writeStatus).toBe(true);
    expect(again.deferCleanUp).toBe(false);
    expect(again.requeueAfter).toBeUndefined();
    expect(again.remove).toEqual([published]);
  });

  it('clean-up goes at once when the status needs no write', () => {
    const stale = {
      ...publishedCm,
      metadata: { ...publishedCm.metadata, name: 'totk-old', uid: 'cm-0' },
    };
    const plan = decide(input({ genome: resource(first.status), owned: [publishedCm, stale] }));
    expect(plan.writeStatus).toBe(false);
    expect(plan.remove).toEqual(['totk-old']);
    expect(plan.deferCleanUp).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type { TlsMaterial } from './material.ts';
import { createCertificateAuthority, issueCertificate } from './pki.ts';
import { describeRotationState, fingerprintOf, normaliseNames } from './x509-facts.ts';
import {
  planRotation,
  type CertificateFacts,
  type RotationAction,
  type RotationPolicy,
  type RotationState,
  type ServingFacts,
  type WebhookConfigFacts,
} from './rotation-plan.ts';

const T0 = Date.parse('2030-01-01T00:00:00Z');
/** A time `s` seconds after T0. */
const at = (s: number) => new Date(T0 + s * 1000);
const NAMES = ['DNS:localhost', 'IP:127.0.0.1'];
const policy: RotationPolicy = {
  names: NAMES,
  renewFraction: 1 / 3,
  gracePeriodMs: 30_000,
  checkIntervalMs: 60_000,
};

/** A CA valid from `from` to `to` seconds. */
const ca = (name: string, from: number, to: number): CertificateFacts => ({
  fingerprint: `fp-${name}`,
  serial: name,
  notBefore: at(from),
  notAfter: at(to),
});

/** A serving certificate valid from `from` to `to` seconds, signed by `signer` (a CA name or undefined). */
const serving = (
  name: string,
  signer: string | undefined,
  from: number,
  to: number,
): ServingFacts => ({
  ...ca(name, from, to),
  names: NAMES,
  signedBy: signer && `fp-${signer}`,
});

/** The validating configuration `vwc` whose one webhook trusts `cas`, or missing when undefined. */
const config = (cas: string[] | undefined): WebhookConfigFacts => ({
  ref: { kind: 'validating', name: 'vwc' },
  bundles: cas && [cas.map((name) => `fp-${name}`)],
});

/** A settled state: CA `ca1` (0–3000 s), serving `s1` (0–900 s) served and trusted everywhere. */
const steady = (overrides: Partial<RotationState> = {}): RotationState => ({
  cas: [ca('ca1', 0, 3000)],
  caKeyMatches: true,
  serving: serving('s1', 'ca1', 0, 900),
  caPublishedAt: at(0),
  servingIssuedAt: at(0),
  configs: [config(['ca1'])],
  served: 'fp-s1',
  ...overrides,
});

/** Mid-rotation: new CA `ca2` published at 2100 s beside `ca1`, serving still from `ca1`. */
const overlap = (overrides: Partial<RotationState> = {}): RotationState =>
  steady({
    cas: [ca('ca2', 2100, 5100), ca('ca1', 0, 3000)],
    caPublishedAt: at(2100),
    serving: serving('s3', 'ca1', 1800, 2700),
    servingIssuedAt: at(1800),
    served: 'fp-s3',
    configs: [config(['ca2', 'ca1'])],
    ...overrides,
  });

/** Overlap, after a serving certificate from `ca2` was issued at 2140 s. */
const switched = (overrides: Partial<RotationState> = {}): RotationState =>
  overlap({
    serving: serving('s4', 'ca2', 2140, 3040),
    servingIssuedAt: at(2140),
    served: 'fp-s4',
    ...overrides,
  });

/** Actions as `type reason`, with the kept CAs for a drop, so a table row reads at a glance. */
const summary = (actions: RotationAction[]) =>
  actions.map((a) =>
    a.type === 'drop-old-cas'
      ? `${a.type} ${a.reason} keep=${a.keep.join(',')}`
      : `${a.type} ${a.reason}`,
  );

const empty: RotationState = { cas: [], caKeyMatches: false, configs: [config([])] };

describe('planRotation', () => {
  it.each<{ name: string; state: RotationState; now: number; want: string[] }>([
    {
      name: 'on a fresh start it creates a CA and a serving certificate, publishes and serves them',
      state: empty,
      now: 0,
      want: [
        'create-ca CaMissing',
        'issue-serving ServingMissing',
        'publish-bundle BundleChanged',
        'reload ServingIssued',
      ],
    },
    {
      name: 'on a fresh start before the webhook configuration exists it does not publish',
      state: { ...empty, configs: [config(undefined)] },
      now: 0,
      want: ['create-ca CaMissing', 'issue-serving ServingMissing', 'reload ServingIssued'],
    },
    { name: 'in the steady state it does nothing', state: steady(), now: 100, want: [] },
    {
      name: 'a process that has just started serves the certificate from the Secret',
      state: steady({ served: undefined }),
      now: 100,
      want: ['reload ServingChanged'],
    },
    {
      name: 'a serving certificate with less than a third of its lifetime left is re-issued',
      state: steady(),
      now: 700,
      want: ['issue-serving ServingNearExpiry', 'reload ServingIssued'],
    },
    {
      name: 'a serving certificate with just over a third of its lifetime left is kept',
      state: steady(),
      now: 599,
      want: [],
    },
    {
      name: 'an expired serving certificate is re-issued',
      state: steady(),
      now: 900,
      want: ['issue-serving ServingExpired', 'reload ServingIssued'],
    },
    {
      name: 'a CA near expiry gets a successor published beside it, with no serving certificate yet',
      state: steady({ serving: serving('s3', 'ca1', 1800, 2700), served: 'fp-s3' }),
      now: 2100,
      want: ['create-ca CaNearExpiry', 'publish-bundle BundleChanged'],
    },
    {
      name: 'a CA whose key is missing gets a successor, and the old one stays trusted',
      state: steady({ caKeyMatches: false }),
      now: 100,
      want: ['create-ca CaKeyMissing', 'publish-bundle BundleChanged'],
    },
    {
      name: 'within the grace period after a new CA is published nothing is issued from it',
      state: overlap(),
      now: 2110,
      want: [],
    },
    {
      name: 'within the grace period even a serving certificate near expiry waits',
      state: overlap({ serving: serving('s3', 'ca1', 1500, 2400) }),
      now: 2110,
      want: [],
    },
    {
      name: 'after the grace period the serving certificate is re-issued from the new CA',
      state: overlap(),
      now: 2130,
      want: ['issue-serving ServingFromOldCa', 'reload ServingIssued'],
    },
    {
      name: 'after the grace period it still waits while a configuration lacks the new CA',
      state: overlap({ configs: [config(['ca1'])] }),
      now: 2130,
      want: ['publish-bundle BundleDrifted'],
    },
    {
      name: 'the old CA stays until other replicas have had a check interval to reload',
      state: switched(),
      now: 2200,
      want: [],
    },
    {
      name: 'the old CA is dropped after the overlap, and the smaller bundle published',
      state: switched(),
      now: 2230,
      want: ['drop-old-cas OverlapEnded keep=fp-ca2', 'publish-bundle BundleChanged'],
    },
    {
      name: 'the old CA stays while this process still serves a certificate it signed',
      state: switched({ served: 'fp-s3' }),
      now: 2230,
      want: ['reload ServingChanged'],
    },
    {
      name: 'an expired old CA is dropped even before the overlap ends',
      state: overlap({ cas: [ca('ca2', 2100, 5100), ca('ca1', 0, 2000)] }),
      now: 2110,
      want: ['drop-old-cas OldCaExpired keep=fp-ca2', 'publish-bundle BundleChanged'],
    },
    {
      name: 'a serving certificate with other names is re-issued',
      state: steady({ serving: { ...serving('s1', 'ca1', 0, 900), names: ['DNS:old.example'] } }),
      now: 100,
      want: ['issue-serving ServingNamesChanged', 'reload ServingIssued'],
    },
    {
      name: 'a serving certificate signed by a CA outside the bundle is re-issued at once',
      state: overlap({ serving: serving('x', undefined, 2000, 2900) }),
      now: 2101,
      want: ['issue-serving ServingUntrusted', 'reload ServingIssued'],
    },
    {
      name: "someone else's caBundle (a redeploy reset it) is re-published",
      state: steady({ configs: [config(['other'])] }),
      now: 100,
      want: ['publish-bundle BundleDrifted'],
    },
    {
      name: 'an emptied caBundle is re-published and a due re-issue waits for it',
      state: steady({ configs: [config([])] }),
      now: 700,
      want: ['publish-bundle BundleDrifted'],
    },
  ])('$name', ({ state, now, want }) => {
    expect(summary(planRotation(state, at(now), policy))).toEqual(want);
  });

  it('publishes to every configuration that exists and only those that drifted', () => {
    const refs = (actions: RotationAction[]) =>
      actions.flatMap((a) => (a.type === 'publish-bundle' ? a.configs.map((c) => c.name) : []));
    const configs: WebhookConfigFacts[] = [
      { ref: { kind: 'validating', name: 'ok' }, bundles: [['fp-ca1'], ['fp-ca1']] },
      { ref: { kind: 'mutating', name: 'drifted' }, bundles: [['fp-ca1'], []] },
      { ref: { kind: 'validating', name: 'missing' } },
    ];
    expect(refs(planRotation(steady({ configs }), at(100), policy))).toEqual(['drifted']);
    expect(refs(planRotation(steady({ configs }), at(2100), policy))).toEqual(['ok', 'drifted']);
  });
});

const ca1 = await createCertificateAuthority('ca1');
const ca2 = await createCertificateAuthority('ca2');
const leaf = await issueCertificate(ca1, {
  commonName: 'localhost',
  dnsNames: ['LocalHost'],
  ipAddresses: ['127.0.0.1', '0:0:0:0:0:0:0:1'],
  usage: 'server',
});

describe('describeRotationState', () => {
  const material = (overrides: Partial<TlsMaterial> = {}): TlsMaterial => ({
    caBundle: [ca2.cert, ca1.cert],
    caKey: ca2.key,
    servingCert: leaf.cert,
    servingKey: leaf.key,
    ...overrides,
  });
  const ref = { kind: 'validating' as const, name: 'vwc' };

  it('finds which CA of the bundle signed the serving certificate and normalises its names', () => {
    const state = describeRotationState(material(), [], undefined);
    expect(state.cas.map((c) => c.fingerprint)).toEqual([
      fingerprintOf(ca2.cert),
      fingerprintOf(ca1.cert),
    ]);
    expect(state.caKeyMatches).toBe(true);
    expect(state.serving?.signedBy).toBe(fingerprintOf(ca1.cert));
    expect(state.serving?.names).toEqual(['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    expect(state.serving?.names).toEqual(
      normaliseNames(['localhost'], ['::1', '127.0.0.1']).sort(),
    );
  });

  it('reports no signer when the signing CA has left the bundle', () => {
    const state = describeRotationState(material({ caBundle: [ca2.cert] }), [], undefined);
    expect(state.serving).toBeDefined();
    expect(state.serving?.signedBy).toBeUndefined();
  });

  it('ignores a serving certificate whose key does not match', () => {
    const state = describeRotationState(material({ servingKey: ca1.key }), [], undefined);
    expect(state.serving).toBeUndefined();
  });

  it('notices that the CA key belongs to another CA', () => {
    const state = describeRotationState(material({ caKey: ca1.key }), [], undefined);
    expect(state.caKeyMatches).toBe(false);
  });

  it('reads each caBundle into fingerprints, keeping unreadable entries so they count as drift', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    const state = describeRotationState(
      material(),
      [{ ref, bundles: [ca2.cert + ca1.cert, broken, ''] }, { ref }],
      undefined,
    );
    expect(state.configs).toEqual([
      {
        ref,
        bundles: [[fingerprintOf(ca2.cert), fingerprintOf(ca1.cert)], ['unreadable'], []],
      },
      { ref, bundles: undefined },
    ]);
  });
});

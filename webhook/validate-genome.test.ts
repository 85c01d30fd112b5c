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
  trusted,
  version,
} from '../test/builders/index.ts';
import { DEFAULT_POLICY, verify } from '../core/verify.ts';
import type { AdmissionRequest } from './admission.ts';
import { ALLOW_DOWNGRADE_ANNOTATION } from '../core/api.ts';
import { decideGenomeAdmission } from './validate-genome.ts';

const alice = keyPair('alice');
const keys = trusted(alice);
/** The trusted keys are current (the webhook's usual state). */
const CURRENT = { trustCurrent: true };

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

const decide = (r: AdmissionRequest) =>
  decideGenomeAdmission(r, keys, DEFAULT_POLICY, CURRENT).response;

describe('decideGenomeAdmission while the trusted keys are not current', () => {
  it('refuses a genome it would verify (TRUST_KEYS_STALE), and still lets an unchanged genome through', () => {
    const stale = { trustCurrent: false };
    const create = request({ object: object(signed()) });
    const refused = decideGenomeAdmission(create, keys, DEFAULT_POLICY, stale).response;
    expect(refused.allowed).toBe(false);
    expect(refused.status?.message).toMatch(/^TRUST_KEYS_STALE: /);
    const relabel = request({
      operation: 'UPDATE',
      object: object(signed(), { team: 'x' }),
      oldObject: object(signed()),
    });
    expect(decideGenomeAdmission(relabel, keys, DEFAULT_POLICY, stale).response.allowed).toBe(true);
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
      [], // no trusted keys at all: a re-verification would refuse
      DEFAULT_POLICY,
      CURRENT,
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
      [], // no trusted keys at all: a re-verification would refuse
      DEFAULT_POLICY,
      CURRENT,
    );
    expect(result).toMatchObject({ response: { allowed: true }, skipped: 'spec.genome unchanged' });
  });

  it('refuses every genome when no keys are trusted', () => {
    const response = decideGenomeAdmission(request({}), [], DEFAULT_POLICY, CURRENT).response;
    expect(response.status?.message).toMatch(/^TRUST_KEYS_MISSING/);
  });

  it('passes warnings through, for a genome signed by a test key', () => {
    const response = decideGenomeAdmission(
      request({}),
      trusted({ ...alice, test: true }),
      DEFAULT_POLICY,
      CURRENT,
    ).response;
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

describe('decideGenomeAdmission validates spec.genome once and decides as verify does', () => {
  const genomes: [string, unknown][] = [
    ['signed', signed('2.0.0')],
    ['tampered', { ...signed('2.0.0'), name: 'TAMPERED' }],
    ['schema problem', { ...signed('2.0.0'), parents: 'x' }],
    ['unsigned', genome(declaring(alice), version('2.0.0'))],
    ['by an untrusted key', genome(declaring(keyPair('eve')), signedBy(keyPair('eve')))],
    ['not an object', 'text'],
  ];

  it.each(genomes)('CREATE and a changed UPDATE: the verdict of verify (%s)', (_name, genome) => {
    const expected = verify(genome, keys, DEFAULT_POLICY);
    const create = request({ object: object(genome) });
    const update = request({
      operation: 'UPDATE',
      oldObject: object(signed('1.0.0')),
      object: object(genome),
    });
    for (const r of [create, update]) {
      expect(decideGenomeAdmission(r, keys, DEFAULT_POLICY, CURRENT).verdict).toEqual(expected);
    }
  });
});

describe('decideGenomeAdmission on hostile updates', () => {
  it('refuses an update whose genome is nested 10,000 levels deep, without throwing', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i += 1) deep = { x: deep };
    const hostile = { ...signed(), x: deep };
    const r = request({ operation: 'UPDATE', oldObject: object(hostile), object: object(hostile) });
    const result = decideGenomeAdmission(r, keys, DEFAULT_POLICY, CURRENT);
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

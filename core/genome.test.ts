import { describe, expect, it } from 'vitest';
import { parseGenome, validateGenome } from './genome.ts';
import { declaring, genome, keyPair } from '../test/builders/index.ts';

const signer = keyPair('k1');
const base = () => JSON.parse(JSON.stringify(genome(declaring(signer)))) as Record<string, unknown>;

/** Applies a change to a fresh genome and returns the JSON text. */
function mutated(change: (g: Record<string, any>) => void): string {
  const g = base();
  change(g);
  return JSON.stringify(g);
}

describe('parseGenome', () => {
  it('accepts a well-formed genome.v0.1', () => {
    const result = parseGenome(JSON.stringify(base()));
    expect(result.ok).toBe(true);
  });

  it.each([
    ['a missing required field', (g: any) => delete g.invariants, 'invariants', 'is required'],
    [
      'a field outside the format',
      (g: any) => (g.extra = 1),
      'extra',
      'is not a field of genome.v0.1',
    ],
    [
      'a nested field outside the format',
      (g: any) => (g.capabilities[0].note = 'x'),
      'capabilities[0].note',
      'is not a field',
    ],
    ['an integer-like key', (g: any) => (g.authority['1'] = 1), 'authority.1', 'is not a field'],
    [
      'another schema_version',
      (g: any) => (g.schema_version = 'genome.v0.2'),
      'schema_version',
      'must be one of',
    ],
    ['a version that is not semver', (g: any) => (g.version = '1.0'), 'version', 'does not match'],
    [
      'a threshold of zero',
      (g: any) => (g.authority.threshold = 0),
      'authority.threshold',
      'at least 1',
    ],
    [
      'a fractional threshold',
      (g: any) => (g.authority.threshold = 1.5),
      'authority.threshold',
      'must be an integer',
    ],
    [
      'a threshold given as a string',
      (g: any) => (g.authority.threshold = '1'),
      'authority.threshold',
      'must be an integer',
    ],
    [
      'a threshold above the signers',
      (g: any) => (g.authority.threshold = 2),
      'authority.threshold',
      'more than the 1 declared',
    ],
    ['no signers', (g: any) => (g.authority.signers = []), 'authority.signers', 'at least 1'],
    [
      'a signer declared twice',
      (g: any) => g.authority.signers.push(g.authority.signers[0]),
      'authority.signers[1].key_id',
      'declared twice',
    ],
    [
      'another algorithm',
      (g: any) => (g.authority.signers[0].alg = 'rsa'),
      'authority.signers[0].alg',
      'must be one of ed25519',
    ],
    [
      'an unknown severity',
      (g: any) => (g.invariants[0].severity = 'LOW'),
      'invariants[0].severity',
      'must be one of',
    ],
    [
      'an unknown risk class',
      (g: any) => (g.capabilities[0].risk_class = 'E'),
      'capabilities[0].risk_class',
      'must be one of',
    ],
    [
      'a parent that is not a genome id',
      (g: any) => (g.parents = ['abc']),
      'parents[0]',
      'does not match',
    ],
    [
      'a created_at that is not ISO-8601',
      (g: any) => (g.created_at = 'yesterday'),
      'created_at',
      'does not match',
    ],
    [
      'null where an array belongs',
      (g: any) => (g.parents = null),
      'parents',
      'must be an array, not null',
    ],
    [
      'an action that is not a string',
      (g: any) => (g.capabilities[0].allow_actions = [1]),
      'capabilities[0].allow_actions[0]',
      'must be a string',
    ],
    [
      'a key id unusable in a Secret',
      (g: any) => (g.authority.signers[0].key_id = 'a/b'),
      'authority.signers[0].key_id',
      'does not match',
    ],
    [
      'a signature with an extra field',
      (g: any) => (g.signature = { alg: 'ed25519', signer_key_id: 'k1', sig_base64: 'x', at: 1 }),
      'signature.at',
      'is not a field',
    ],
    [
      'a blank name, which Mathison refuses',
      (g: any) => (g.name = ' \u00a0'),
      'name',
      'must not be blank',
    ],
    [
      'an empty build manifest path, which Mathison refuses',
      (g: any) => (g.build_manifest.files = [{ path: '', sha256: 'a'.repeat(64) }]),
      'build_manifest.files[0].path',
      'must not be blank',
    ],
    [
      'a blank capability id, which Mathison refuses',
      (g: any) => (g.capabilities[0].cap_id = '\t'),
      'capabilities[0].cap_id',
      'must not be blank',
    ],
  ])('refuses %s, naming the field', (_name, change, field, reason) => {
    const result = parseGenome(mutated(change));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.refusal).toMatchObject({ code: 'GENOME_INVALID_SCHEMA', field });
    expect(result.refusal.message).toContain(reason);
  });

  it('refuses ambiguous JSON before looking at the schema', () => {
    const text = JSON.stringify(base()).replace('"name":', '"name":"shadow","name":');
    const result = parseGenome(text);
    expect(!result.ok && result.refusal.code).toBe('GENOME_UNREADABLE');
  });

  it.each([
    ['an array', []],
    ['a string', 'genome'],
    ['null', null],
  ])('refuses %s as the whole document', (_name, value) => {
    const result = validateGenome(value);
    expect(!result.ok && result.refusal.code).toBe('GENOME_INVALID_SCHEMA');
  });
});

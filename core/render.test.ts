import { describe, expect, it } from 'vitest';
import { genomeId } from './canonical.ts';
import { parseGenome } from './genome.ts';
import {
  GENOME_CONFIGMAP_KEY as GENOME_FILE,
  TRUSTED_KEYS_CONFIGMAP_KEY as TRUSTED_KEYS_FILE,
} from './api.ts';
import { configMapName, desiredConfigMap, legacyConfigMapName } from './render.ts';
import { declaring, genome, keyPair, signedBy, trusted } from '../test/builders/index.ts';
import { parseTrustFile } from './trust.ts';
import { verify, type Verified } from './verify.ts';

const alice = keyPair('alice');
const bob = keyPair('bob');
const ID = 'a'.repeat(64);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('configMapName', () => {
  const cases: { name: string; genome: string; expected?: string }[] = [
    {
      name: 'a short name gets the short id appended',
      genome: 'totk',
      expected: 'totk-aaaaaaaaaaaa',
    },
    {
      name: 'a dotted name becomes dashes and a hash of the whole name',
      genome: 'totk.v1',
      expected: 'totk-v1--c85c50be8d4665d1-aaaaaaaaaaaa',
    },
    { name: 'a 253-character name is cut to a DNS label', genome: 'x'.repeat(253) },
    { name: 'a long dotted name stays a DNS label', genome: `${'a.'.repeat(60)}b` },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const name = configMapName(c.genome, ID);
      if (c.expected !== undefined) expect(name).toBe(c.expected);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(DNS_LABEL);
      expect(name.endsWith('-aaaaaaaaaaaa')).toBe(true);
    });
  }

  it('legacyConfigMapName is the name before names were unique: dots as dashes', () => {
    expect(legacyConfigMapName('totk.v1', ID)).toBe('totk-v1-aaaaaaaaaaaa');
    expect(legacyConfigMapName('totk', ID)).toBe(configMapName('totk', ID));
  });

  it('names that map to the same characters never share a ConfigMap', () => {
    const names = ['totk.v1', 'totk-v1', 'totk--v1', 'totk-v1--c85c50be8d4665d1', 'totk.v1.'];
    const long = 'q'.repeat(60);
    names.push(long, `${configMapName(long, ID).slice(0, -13)}`);
    names.push('x'.repeat(50), 'x'.repeat(51));
    const mapped = names.map((n) => configMapName(n, ID));
    expect(new Set(mapped).size).toBe(names.length);
  });

  it('two long names with the same prefix get different names', () => {
    const a = configMapName(`${'p'.repeat(100)}-one`, ID);
    const b = configMapName(`${'p'.repeat(100)}-two`, ID);
    expect(a).not.toBe(b);
  });
});

describe('desiredConfigMap', () => {
  const signed = genome(declaring(alice, bob), signedBy(alice));
  const verdict = verify(signed, trusted(alice, bob)) as Verified;
  const owner = { name: 'totk', namespace: 'apps', uid: 'uid-1' };
  const cm = desiredConfigMap(owner, signed, verdict, trusted(alice, bob));

  it('is immutable and owned by the Genome as its controller', () => {
    expect(cm.immutable).toBe(true);
    expect(cm.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Genome', name: 'totk', uid: 'uid-1', controller: true }),
    ]);
    expect(cm.metadata.namespace).toBe('apps');
  });

  it('holds genome.json that parses strictly to the same genome id', () => {
    const parsed = parseGenome(cm.data[GENOME_FILE]!);
    expect(parsed.ok).toBe(true);
    expect(genomeId(parsed.ok ? parsed.genome : {})).toBe(verdict.genomeId);
  });

  it('holds only the keys that verified it, as a trust file that verifies the genome', () => {
    const set = parseTrustFile(cm.data[TRUSTED_KEYS_FILE]!, 'cm');
    expect('keys' in set && set.keys.map((k) => k.keyId)).toEqual(['alice']);
    expect('keys' in set && verify(signed, set.keys).ok).toBe(true);
  });

  it('is labelled with the Genome uid and name, and annotated with the full id', () => {
    expect(cm.metadata.labels).toMatchObject({
      'genome.mathison.io/genome-uid': 'uid-1',
      'genome.mathison.io/genome': 'totk',
      'app.kubernetes.io/managed-by': 'genome-operator',
    });
    expect(cm.metadata.annotations['genome.mathison.io/id']).toBe(verdict.genomeId);
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalize } from 'json-canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalJson, genomeId } from './canonical.ts';
import { parseGenome, validateGenome } from './genome.ts';
import { GENOME_SCHEMA, PUBLIC_KEY_PATTERN, SIGNATURE_PATTERN } from './genome-schema.ts';
import type { Genome } from './genome.ts';
import { mathisonCanonicalJson as naiveMathison } from './mathison-model.ts';
import { sortedKeys } from '../test/builders/index.ts';

const VECTORS = join(import.meta.dirname, '..', 'test', 'vectors');

const text = fc.string({ unit: 'binary', maxLength: 12 }); // any code points, astral included
/** Upstream's loader refuses these fields when blank (only whitespace, or empty). */
const filled = text.filter((s) => s.trim() !== '');
const key = fc.oneof(
  text,
  fc.nat({ max: 2 ** 32 }).map(String),
  fc.constantFrom('signature', 'signatures', '', '01', '-1'),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    text,
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.dictionary(
    key.filter((k) => k !== '__proto__'),
    tie('value'),
    { maxKeys: 6 },
  ),
}));

const signer = fc.record({
  key_id: fc.stringMatching(/^[-._a-zA-Z0-9]{1,20}$/),
  alg: fc.constant('ed25519'),
  public_key: fc.stringMatching(new RegExp(PUBLIC_KEY_PATTERN)),
});
const signature = fc.record({
  alg: fc.constant('ed25519'),
  signer_key_id: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  sig_base64: fc.stringMatching(new RegExp(SIGNATURE_PATTERN)),
});
/** Arbitrary genomes that the strict parser must accept. */
const validGenome = fc
  .record(
    {
      schema_version: fc.constant('genome.v0.1'),
      name: filled,
      version: fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map((v) => v.join('.')),
      parents: fc.array(fc.stringMatching(/^[0-9a-f]{64}$/), { maxLength: 2 }),
      created_at: fc.constantFrom('2025-12-31T00:00:00Z', '2026-11-23T10:20:30.123+02:00'),
      authority: fc
        .uniqueArray(signer, { minLength: 1, maxLength: 3, selector: (s) => s.key_id })
        .chain((signers) =>
          fc.record({
            signers: fc.constant(signers),
            threshold: fc.integer({ min: 1, max: signers.length }),
          }),
        ),
      invariants: fc.array(
        fc.record({
          id: filled,
          severity: fc.constantFrom('CRITICAL', 'HIGH', 'MEDIUM'),
          testable_claim: text,
          enforcement_hook: text,
        }),
        { maxLength: 3 },
      ),
      capabilities: fc.array(
        fc.record({
          cap_id: filled,
          risk_class: fc.constantFrom('A', 'B', 'C', 'D'),
          allow_actions: fc.array(text, { maxLength: 3 }),
          deny_actions: fc.array(text, { maxLength: 3 }),
        }),
        { maxLength: 3 },
      ),
      build_manifest: fc.record({
        files: fc.array(fc.record({ path: filled, sha256: filled }), { maxLength: 2 }),
      }),
      signature,
      signatures: fc.array(signature, { maxLength: 2 }),
    },
    { requiredKeys: GENOME_SCHEMA.required as (keyof Genome)[] },
  )
  .filter((g) => JSON.stringify(g).isWellFormed());

describe('canonicalJson', () => {
  it('gives the interop genome the id published by upstream', () => {
    const genome = JSON.parse(
      readFileSync(join(VECTORS, 'interop', 'upstream-test-genome.json'), 'utf8'),
    );
    expect(genomeId(genome)).toBe(
      'dbd37fd8a0710ccb89167927ce2d10e920d63927a223d3fdc3c163a158ecbb91',
    );
  });

  it('is byte-identical to the naive Mathison rule on arbitrary JSON objects, integer-like keys included', () => {
    fc.assert(
      fc.property(json.object, (object) => {
        expect(canonicalJson(object)).toBe(naiveMathison(object));
      }),
      { numRuns: 2000 },
    );
  });

  it('is byte-identical to the naive Mathison rule on generated genomes', () => {
    fc.assert(
      fc.property(validGenome, (genome) => {
        expect(canonicalJson(genome)).toBe(naiveMathison(genome));
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with json-canonicalize (RFC 8785) on every generated genome the strict parser accepts', () => {
    fc.assert(
      fc.property(validGenome, (genome) => {
        const parsed = parseGenome(JSON.stringify(genome, null, 1));
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const { signature: _a, signatures: _b, ...unsigned } = parsed.genome;
        expect(canonicalJson(parsed.genome)).toBe(canonicalize(unsigned));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same bytes with the key-order hint of validateGenome, sorted input or not', () => {
    fc.assert(
      fc.property(validGenome, fc.boolean(), (genome, sorted) => {
        const input = sorted ? sortedKeys(genome) : genome;
        const valid = validateGenome(input);
        expect(valid.ok).toBe(true);
        if (!valid.ok) return;
        expect(
          Buffer.from(canonicalBytes(valid.genome, valid.nestedKeysSorted)).toString('utf8'),
        ).toBe(naiveMathison(genome));
      }),
      { numRuns: 500 },
    );
  });

  it('ignores key order and whitespace but not content', () => {
    const a = { b: [1, { y: 2, x: 'é' }], a: null };
    const b = JSON.parse('{ "a" : null, "b" : [ 1, { "x" : "\\u00e9", "y" : 2 } ] }');
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":null,"b":[1,{"x":"é","y":2}]}');
    expect(genomeId({ ...a, b: [1, { y: 3, x: 'é' }] })).not.toBe(genomeId(a));
  });

  it('drops only the top-level signature and signatures', () => {
    const doc = { signature: 1, signatures: [2], nested: { signature: 3 } };
    expect(canonicalJson(doc)).toBe('{"nested":{"signature":3}}');
  });
});

describe('RFC 8785 reference data (test/vectors/jcs)', () => {
  const dir = join(VECTORS, 'jcs');
  // Where an object has array-index keys ("1", "10"), JavaScript enumerates them first, so the
  // Mathison form and RFC 8785 differ. genome.v0.1 has no such keys, and the strict schema
  // refuses any key outside the format, so no accepted genome can fall in that gap.
  const differs = new Set(['structures.json', 'weird.json']);
  it.each(readdirSync(join(dir, 'input')).sort())('%s', (file) => {
    const input = JSON.parse(readFileSync(join(dir, 'input', file), 'utf8'));
    const expected = readFileSync(join(dir, 'output', file), 'utf8').trimEnd();
    expect(canonicalize(input)).toBe(expected);
    if (Array.isArray(input)) return; // not an object: the Mathison rule applies to objects
    if (differs.has(file)) expect(canonicalJson(input)).not.toBe(expected);
    else expect(canonicalJson(input)).toBe(expected);
    expect(canonicalJson(input)).toBe(naiveMathison(input));
  });
});

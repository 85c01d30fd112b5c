import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mathisonCanonicalJson as naiveCanonical, mathisonLoads } from './mathison-model.ts';
import { validateGenome, type Genome, type GenomeSignature } from './genome.ts';
import {
  declaring,
  genome,
  keyPair,
  named,
  signedBy,
  signWith,
  threshold,
  trusted,
  withFields,
  type TestKeyPair,
} from '../test/builders/index.ts';
import { parseTrustFile, type TrustedKey } from './trust.ts';
import { verify, verifyValidated } from './verify.ts';

const alice = keyPair('alice');
const bob = keyPair('bob');
const mallory = keyPair('mallory');
const aliceImpostor = keyPair('alice');

interface Case {
  name: string;
  genome: () => unknown;
  trusted: TrustedKey[];
  code?: string;
  signers?: string[];
  message?: RegExp;
  field?: string;
}

const tamper = (g: Genome): Genome => ({
  ...g,
  capabilities: [{ ...g.capabilities[0]!, allow_actions: ['everything'] }],
});

/** The same genome with every signature moved to `signatures`, as other signing tools write it. */
const onlyInSignatures = (g: Genome): Genome => {
  const { signature, signatures, ...rest } = g;
  return { ...rest, signatures: [...(signature ? [signature] : []), ...(signatures ?? [])] };
};

const cases: Case[] = [
  {
    name: 'a genome signed by a trusted key verifies',
    genome: () => genome(signedBy(alice)),
    trusted: trusted(alice),
    signers: ['alice'],
  },
  {
    name: 'two distinct trusted signers meet a threshold of 2',
    genome: () => genome(signedBy(alice, bob), threshold(2)),
    trusted: trusted(alice, bob),
    signers: ['alice', 'bob'],
  },
  {
    name: 'a tampered nested field breaks the signature',
    genome: () => tamper(genome(signedBy(alice))),
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SIGNATURE',
    message: /does not match/,
  },
  {
    name: 'an unsigned genome is refused',
    genome: () => genome(declaring(alice)),
    trusted: trusted(alice),
    code: 'GENOME_UNSIGNED',
  },
  {
    name: 'an empty `signatures` and no `signature` is unsigned',
    genome: () => ({ ...genome(declaring(alice)), signatures: [] }),
    trusted: trusted(alice),
    code: 'GENOME_UNSIGNED',
    message: /neither/,
  },
  {
    name: 'a genome signed only in `signatures` by a trusted key verifies, as upstream boots it',
    genome: () => onlyInSignatures(genome(signedBy(alice))),
    trusted: trusted(alice),
    signers: ['alice'],
  },
  {
    name: 'two distinct trusted signers only in `signatures` meet a threshold of 2',
    genome: () => onlyInSignatures(genome(signedBy(alice, bob), threshold(2))),
    trusted: trusted(alice, bob),
    signers: ['alice', 'bob'],
  },
  {
    name: 'a genome signed only in `signatures` by an untrusted key is refused',
    genome: () => onlyInSignatures(genome(signedBy(mallory))),
    trusted: trusted(alice),
    code: 'GENOME_UNTRUSTED_SIGNER',
  },
  {
    name: 'one signer twice in `signatures` does not meet a threshold of 2',
    genome: () => {
      const g = onlyInSignatures(genome(declaring(alice, bob), signedBy(alice), threshold(2)));
      return { ...g, signatures: [g.signatures![0]!, g.signatures![0]!] };
    },
    trusted: trusted(alice, bob),
    code: 'GENOME_THRESHOLD_NOT_MET',
    message: /1 distinct trusted signer/,
  },
  {
    name: 'a tampered genome signed only in `signatures` names the entry that fails',
    genome: () => tamper(onlyInSignatures(genome(signedBy(alice)))),
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SIGNATURE',
    field: 'signatures[0]',
  },
  {
    name: 'a self-signed genome by an untrusted key is refused',
    genome: () => genome(signedBy(mallory)),
    trusted: trusted(alice),
    code: 'GENOME_UNTRUSTED_SIGNER',
  },
  {
    name: 'a trusted key id with a different public key is an impersonation, not a match',
    genome: () => genome(signedBy(aliceImpostor)),
    trusted: trusted(alice),
    code: 'GENOME_UNTRUSTED_SIGNER',
    message: /different public key/,
  },
  {
    name: 'one signer twice does not meet a threshold of 2',
    genome: () => {
      const g = genome(declaring(alice, bob), signedBy(alice), threshold(2));
      return { ...g, signatures: [g.signature!] };
    },
    trusted: trusted(alice, bob),
    code: 'GENOME_THRESHOLD_NOT_MET',
    message: /1 distinct trusted signer/,
  },
  {
    name: 'an untrusted co-signer does not count toward the threshold',
    genome: () => genome(signedBy(alice, mallory), threshold(2)),
    trusted: trusted(alice),
    code: 'GENOME_THRESHOLD_NOT_MET',
  },
  {
    name: 'a signature by a key the genome does not declare is refused',
    genome: () => ({
      ...genome(signedBy(alice)),
      signatures: [{ alg: 'ed25519', signer_key_id: 'bob', sig_base64: `${'A'.repeat(86)}==` }],
    }),
    trusted: trusted(alice, bob),
    code: 'GENOME_INVALID_SIGNATURE',
    message: /does not declare/,
  },
  {
    name: 'an invalid co-signature fails the genome even when the threshold is met',
    genome: () => {
      const g = genome(signedBy(alice, bob));
      return { ...g, signatures: [{ ...g.signatures![0]!, sig_base64: g.signature!.sig_base64 }] };
    },
    trusted: trusted(alice, bob),
    code: 'GENOME_INVALID_SIGNATURE',
  },
  {
    name: 'a signature that is not 64 bytes of canonical base64 is a schema refusal',
    genome: () => ({
      ...genome(signedBy(alice)),
      signature: { alg: 'ed25519', signer_key_id: 'alice', sig_base64: 'AAAA' },
    }),
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SCHEMA',
    message: /does not match/,
  },
  {
    name: 'a declared key in another encoding (PEM) is refused, signer or not',
    genome: () => {
      const g = genome(declaring(alice, bob), signedBy(alice));
      const pem = `-----BEGIN PUBLIC KEY-----\n${bob.publicKey}\n-----END PUBLIC KEY-----`;
      return {
        ...g,
        authority: {
          ...g.authority,
          signers: [g.authority.signers[0]!, { ...g.authority.signers[1]!, public_key: pem }],
        },
      };
    },
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SCHEMA',
  },
  {
    name: 'a declared key of small order is refused even when it did not sign',
    genome: () => {
      const identity = Buffer.concat([
        Buffer.from('302a300506032b6570032100', 'hex'),
        Buffer.from('01'.padEnd(64, '0'), 'hex'),
      ]).toString('base64');
      const g = genome(declaring(alice, bob));
      const weak = {
        ...g,
        authority: {
          ...g.authority,
          signers: [
            g.authority.signers[0]!,
            { key_id: 'evil', alg: 'ed25519' as const, public_key: identity },
          ],
        },
      };
      return signWith(weak, alice);
    },
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SCHEMA',
    message: /small order/,
  },
  {
    name: 'one key declared under two ids cannot count twice toward a threshold of 2',
    genome: () => {
      const alias = { ...alice, keyId: 'alice-2025' };
      return genome(signedBy(alice, alias), threshold(2));
    },
    trusted: trusted(alice, { ...alice, keyId: 'alice-2025' }),
    code: 'GENOME_INVALID_SCHEMA',
    message: /already declared under another key_id/,
  },
  {
    name: 'no trusted keys at all is its own refusal',
    genome: () => genome(signedBy(alice)),
    trusted: [],
    code: 'TRUST_KEYS_MISSING',
  },
  {
    name: 'a document that is not a genome is a schema refusal',
    genome: () => ({ hello: 'world' }),
    trusted: trusted(alice),
    code: 'GENOME_INVALID_SCHEMA',
  },
  {
    name: 'a genome over the size limit is refused before any signature is checked',
    genome: () => genome(signedBy(alice), named('x'.repeat(1_000_001))),
    trusted: trusted(alice),
    code: 'GENOME_TOO_LARGE',
  },
];

describe('verify', () => {
  it.each(cases)('$name', (c) => {
    const verdict = verify(c.genome(), c.trusted);
    if (c.code === undefined) {
      expect(verdict).toMatchObject({ ok: true, signers: c.signers });
      return;
    }
    expect(verdict).toMatchObject({ ok: false, code: c.code });
    if (c.message && !verdict.ok) expect(verdict.message).toMatch(c.message);
    if (c.field && !verdict.ok) expect(verdict.field).toBe(c.field);
  });

  it('warns when a test key signed, and still verifies', () => {
    const verdict = verify(genome(signedBy(alice)), trusted({ ...alice, test: true }));
    expect(verdict.ok && verdict.warnings.join()).toMatch(/TEST key/);
  });

  it('honours a policy that asks for more signers than the genome does', () => {
    const verdict = verify(genome(declaring(alice, bob), signedBy(alice)), trusted(alice, bob), {
      maxBytes: 1e6,
      minSigners: 2,
    });
    expect(verdict).toMatchObject({ ok: false, code: 'GENOME_THRESHOLD_NOT_MET' });
  });

  it.each([
    undefined,
    null,
    42,
    'text',
    [],
    { schema_version: 'genome.v0.1', authority: { signers: 'x' } },
  ])('never throws on hostile input (%s)', (input) => {
    expect(() => verify(input, trusted(alice))).not.toThrow();
    expect(verify(input, trusted(alice)).ok).toBe(false);
  });
});

describe('verify on upstream interop genomes', () => {
  const interop = join(import.meta.dirname, '..', 'test', 'vectors', 'interop');
  const load = (name: string) => {
    const genome = JSON.parse(readFileSync(join(interop, `${name}.json`), 'utf8'));
    const keys = parseTrustFile(readFileSync(join(interop, `${name}.trust.json`), 'utf8'), name);
    if (!('keys' in keys)) throw new Error(keys.message);
    return { genome, keys: keys.keys };
  };

  it("verifies the genome signed by upstream's tool, with the published id", () => {
    const { genome, keys } = load('upstream-test-genome');
    expect(verify(genome, keys)).toMatchObject({
      ok: true,
      genomeId: 'dbd37fd8a0710ccb89167927ce2d10e920d63927a223d3fdc3c163a158ecbb91',
      signers: ['dev-key-001'],
    });
  });

  it('refuses the legacy TOTK genome even with its key trusted, and says why', () => {
    const { genome, keys } = load('upstream-totk-root-legacy');
    const verdict = verify(genome, keys);
    expect(verdict).toMatchObject({
      ok: false,
      code: 'GENOME_INVALID_SIGNATURE',
      field: 'signature',
    });
    expect(!verdict.ok && verdict.message).toMatch(/legacy form/);
  });
});

describe('verifyValidated, for a document already validated', () => {
  const same = (document: unknown, keys: TrustedKey[]) =>
    expect(verifyValidated(validateGenome(document), keys)).toEqual(verify(document, keys));

  it.each(cases)('gives the same verdict as verify: $name', (c) => same(c.genome(), c.trusted));

  it.each([undefined, null, 42, 'text', [], { schema_version: 'genome.v0.1' }])(
    'gives the same refusal as verify on hostile input (%s)',
    (input) => same(input, trusted(alice)),
  );

  it('gives the same verdict as verify on the upstream interop genomes', () => {
    const interop = join(import.meta.dirname, '..', 'test', 'vectors', 'interop');
    for (const name of ['upstream-test-genome', 'upstream-totk-root-legacy']) {
      const genome = JSON.parse(readFileSync(join(interop, `${name}.json`), 'utf8'));
      const keys = parseTrustFile(readFileSync(join(interop, `${name}.trust.json`), 'utf8'), name);
      if (!('keys' in keys)) throw new Error(keys.message);
      same(genome, keys.keys);
    }
  });

  it('gives the same verdict as verify on arbitrary JSON in a genome (property)', () => {
    const base = genome(declaring(alice, bob), signedBy(alice));
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(base)),
        fc.jsonValue(),
        fc.boolean(),
        (key, value, keep) => {
          const document = keep ? base : { ...base, [key]: value };
          same(JSON.parse(JSON.stringify(document)), trusted(alice, bob));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("verify against a naive model of upstream Mathison's loader", () => {
  const pool = ['k0', 'k1', 'k2', 'k3'].map((id) => keyPair(id));
  const blankable = ['none', 'name', 'invariant id', 'cap_id', 'file path', 'file sha256'] as const;
  const scenario = fc.record({
    declared: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 3 }),
    thresholdSeed: fc.nat(),
    signs: fc.array(
      fc.record({
        // 0-3: a declared signer; 4-7: any key of the pool, declared or not.
        who: fc.nat(7),
        inSignature: fc.boolean(),
        valid: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, fc.constant(false)),
      }),
      { maxLength: 4, size: 'small' },
    ),
    trusted: fc.oneof(
      { weight: 3, arbitrary: fc.constant('declared' as const) },
      fc.subarray([0, 1, 2, 3]),
    ),
    impostor: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, fc.constant(true)),
    blank: fc.oneof({ weight: 5, arbitrary: fc.constant('none') }, fc.constantFrom(...blankable)),
    tamper: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, fc.constant(true)),
  });
  type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

  function unsignedOf(s: Scenario): Genome {
    const signers = s.declared.map((i) => pool[i]!);
    const g = genome(
      declaring(...signers),
      threshold(1 + (s.thresholdSeed % signers.length)),
      withFields({ build_manifest: { files: [{ path: 'src/a.ts', sha256: 'a'.repeat(64) }] } }),
    );
    const blank = ' \t\u00a0\u2028';
    if (s.blank === 'name') g.name = blank;
    if (s.blank === 'invariant id') g.invariants[0]!.id = blank;
    if (s.blank === 'cap_id') g.capabilities[0]!.cap_id = blank;
    if (s.blank === 'file path') g.build_manifest.files[0]!.path = '';
    if (s.blank === 'file sha256') g.build_manifest.files[0]!.sha256 = ' ';
    return g;
  }

  const signerOf = (s: Scenario, who: number): TestKeyPair =>
    who < 4 ? pool[s.declared[who % s.declared.length]!]! : pool[who - 4]!;

  /** Signs with each entry of the scenario, in `signature` or `signatures`, valid or not. */
  function signedOf(s: Scenario): Genome {
    const unsigned = unsignedOf(s);
    const bytes = Buffer.from(naiveCanonical(unsigned));
    let signature: GenomeSignature | undefined;
    const signatures: GenomeSignature[] = [];
    for (const entry of s.signs) {
      const signer = signerOf(s, entry.who);
      const message = entry.valid ? bytes : Buffer.concat([bytes, Buffer.from('!')]);
      const sig: GenomeSignature = {
        alg: 'ed25519',
        signer_key_id: signer.keyId,
        sig_base64: sign(null, message, signer.privateKey).toString('base64'),
      };
      if (entry.inSignature && signature === undefined) signature = sig;
      else signatures.push(sig);
    }
    const genome: Genome = {
      ...unsigned,
      ...(signature && { signature }),
      ...(signatures.length > 0 && { signatures }),
    };
    return s.tamper ? { ...genome, version: '9.9.9' } : genome;
  }

  function trustedOf(s: Scenario): TrustedKey[] {
    const chosen = s.trusted === 'declared' ? s.declared : s.trusted;
    const keys = chosen.map((i) => pool[i]!);
    // A trusted key id paired with another key: the genome's own key must not count.
    if (s.impostor && keys[0]) keys[0] = keyPair(keys[0].keyId);
    return keys.length === 0 ? [] : trusted(...keys);
  }

  it('never accepts a genome that the loader would refuse, and agrees on the genome id', async () => {
    const tally = { accepted: 0, onlySignatures: 0, loaderOnly: 0 };
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const genome = signedOf(s);
        const text = JSON.stringify(genome);
        const keys = trustedOf(s);
        const ours = verify(JSON.parse(text), keys);
        // The webhook's path (validated once, then verified) decides exactly the same.
        expect(verifyValidated(validateGenome(JSON.parse(text)), keys)).toEqual(ours);
        const theirs = await mathisonLoads(text);
        if (theirs.ok && !ours.ok) tally.loaderOnly += 1;
        if (!ours.ok) return;
        expect(theirs).toEqual({ ok: true, genomeId: ours.genomeId });
        tally.accepted += 1;
        if (genome.signature === undefined) tally.onlySignatures += 1;
      }),
      { numRuns: 500 },
    );
    // Not vacuous: many generated genomes verify, signatures-only ones among them.
    expect(tally.accepted).toBeGreaterThan(30);
    expect(tally.onlySignatures).toBeGreaterThan(5);
    expect(tally.loaderOnly).toBeGreaterThan(0);
  });

  it('accepts what the loader accepts when every signature is valid, declared and trusted', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (raw) => {
        const s: Scenario = {
          ...raw,
          signs: raw.signs
            .filter((e) => e.who < 4 || raw.declared.includes(e.who - 4))
            .map((e) => ({ ...e, valid: true })),
          trusted: 'declared',
          impostor: false,
          tamper: false,
          blank: 'none',
        };
        const text = JSON.stringify(signedOf(s));
        const theirs = await mathisonLoads(text);
        const ours = verify(JSON.parse(text), trustedOf(s));
        expect(ours.ok).toBe(theirs.ok);
        if (!ours.ok) expect(['GENOME_UNSIGNED', 'GENOME_THRESHOLD_NOT_MET']).toContain(ours.code);
      }),
      { numRuns: 300 },
    );
  });
});

describe('refusals never print a key value in full', () => {
  const ed = generateKeyPairSync('ed25519');
  const pkcs8 = ed.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  const privateKeys: [string, string][] = [
    ['a base64 PKCS#8 Ed25519 key', pkcs8],
    ['a PEM PKCS#8 key', ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string],
    [
      'a PEM EC PRIVATE KEY',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        format: 'pem',
        type: 'sec1',
      }) as string,
    ],
    [
      'a PEM RSA PRIVATE KEY',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
        format: 'pem',
        type: 'pkcs1',
      }) as string,
    ],
    [
      'a 64-byte NaCl secret key',
      Buffer.concat([
        ed.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16),
        ed.publicKey.export({ format: 'der', type: 'spki' }).subarray(12),
      ]).toString('base64'),
    ],
  ];
  /** Every 16-character piece of the key's body (PEM armour aside). */
  const pieces = (key: string) => {
    const body = key.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    return Array.from({ length: Math.floor(body.length / 16) }, (_, i) =>
      body.slice(i * 16, i * 16 + 16),
    );
  };
  const withKey = (publicKey: string) => {
    const g = genome(signedBy(alice));
    const signer = { ...g.authority.signers[0]!, public_key: publicKey };
    return { ...g, authority: { ...g.authority, signers: [signer] } };
  };

  it.each(privateKeys)('names %s in authority as a private key, without printing it', (_n, key) => {
    const verdict = verify(withKey(key), trusted(alice));
    expect(verdict).toMatchObject({
      ok: false,
      code: 'PRIVATE_KEY_EXPOSED',
      field: 'authority.signers[0].public_key',
    });
    if (verdict.ok) return;
    expect(verdict.message).toMatch(/PRIVATE key/);
    for (const piece of pieces(key)) expect(verdict.message).not.toContain(piece);
  });

  it('names a malformed public key by fingerprint only', () => {
    const pem = `-----BEGIN PUBLIC KEY-----\n${bob.publicKey}\n-----END PUBLIC KEY-----`;
    const verdict = verify(withKey(pem), trusted(alice));
    expect(verdict).toMatchObject({ ok: false, code: 'GENOME_INVALID_SCHEMA' });
    if (verdict.ok) return;
    expect(verdict.message).toMatch(/sha256:[0-9a-f]{8}/);
    expect(verdict.message).not.toContain(bob.publicKey.slice(16, 40));
  });

  it('names the keys of an impersonation by fingerprint only', () => {
    const verdict = verify(genome(signedBy(aliceImpostor)), trusted(alice));
    expect(verdict).toMatchObject({ ok: false, code: 'GENOME_UNTRUSTED_SIGNER' });
    if (verdict.ok) return;
    expect(verdict.message).toMatch(/sha256:[0-9a-f]{8}/);
    expect(verdict.message).not.toContain(alice.publicKey.slice(16, 40));
    expect(verdict.message).not.toContain(aliceImpostor.publicKey.slice(16, 40));
  });
});

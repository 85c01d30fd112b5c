/**
 * Genomes for tests, built from parts: `genome(signedBy(alice), version('1.2.0'), threshold(2))`.
 * Fields are set first and signatures made last, over the finished content, as genome-sign does.
 */
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import { withSignature } from '../../core/sign.ts';
import type { TestKeyPair } from './keys.ts';

const TOTK = join(import.meta.dirname, '..', '..', 'genomes', 'TOTK_ROOT_v1.0.0');

/** What the parts of a genome decide before it is built. */
export interface GenomeDraft {
  /** The keys authority.signers lists; by default the keys that sign. */
  declared?: TestKeyPair[];
  /** The keys that sign, in order. */
  signers: TestKeyPair[];
  /** Fields that replace the defaults. */
  fields: Partial<Genome>;
  threshold?: number;
}

/** One part of a genome: `signedBy(alice)`, `version('1.2.0')`, ... */
export type GenomePart = (draft: GenomeDraft) => GenomeDraft;

/** Signed by these keys, in order (and, unless `declaring` says otherwise, listing them). */
export const signedBy =
  (...keys: TestKeyPair[]): GenomePart =>
  (d) => ({ ...d, signers: [...d.signers, ...keys] });

/** authority.signers lists these keys (whoever signs). */
export const declaring =
  (...keys: TestKeyPair[]): GenomePart =>
  (d) => ({ ...d, declared: [...(d.declared ?? []), ...keys] });

/** The genome's version. */
export const version = (v: string): GenomePart => withFields({ version: v });

/** The genome's name. */
export const named = (name: string): GenomePart => withFields({ name });

/** authority.threshold: how many declared signers must have signed. */
export const threshold =
  (n: number): GenomePart =>
  (d) => ({ ...d, threshold: n });

/** Any fields, replacing the defaults (and earlier parts) wholesale. */
export const withFields =
  (fields: Partial<Genome>): GenomePart =>
  (d) => ({ ...d, fields: { ...d.fields, ...fields } });

/**
 * Returns a genome.v0.1 genome: TEST_GENOME 1.2.3 with one invariant and one capability,
 * changed by `parts`, listing and signed by the keys they name (unsigned when none signs).
 */
export function genome(...parts: GenomePart[]): Genome {
  const draft = parts.reduce((d, part) => part(d), { signers: [], fields: {} } as GenomeDraft);
  const declared = draft.declared ?? draft.signers;
  const base: Genome = {
    schema_version: 'genome.v0.1',
    name: 'TEST_GENOME',
    version: '1.2.3',
    parents: [],
    created_at: '2026-01-01T00:00:00Z',
    authority: {
      signers: declared.map((k) => ({ key_id: k.keyId, alg: 'ed25519', public_key: k.publicKey })),
      threshold: 1,
    },
    invariants: [
      {
        id: 'INV-001',
        severity: 'CRITICAL',
        testable_claim: 'fail closed',
        enforcement_hook: 'cdi.isUncertain',
      },
    ],
    capabilities: [
      { cap_id: 'CAP-HEALTH', risk_class: 'A', allow_actions: ['health_check'], deny_actions: [] },
    ],
    build_manifest: { files: [] },
    ...draft.fields,
  };
  const unsigned =
    draft.threshold === undefined
      ? base
      : { ...base, authority: { ...base.authority, threshold: draft.threshold } };
  return signWith(unsigned, ...draft.signers);
}

/** Returns `genome` with a signature by each key in turn over its canonical bytes, as genome-sign makes. */
export function signWith(genome: Genome, ...keys: TestKeyPair[]): Genome {
  let out = genome;
  for (const k of keys) {
    const sig = sign(null, canonicalBytes(out), k.privateKey).toString('base64');
    out = withSignature(out, { alg: 'ed25519', signer_key_id: k.keyId, sig_base64: sig });
  }
  return out;
}

/** Returns the TOTK_ROOT genome as the repository holds it, signed by the TEST key (a fresh copy). */
export function totkGenome(): Genome {
  return JSON.parse(readFileSync(join(TOTK, 'genome.json'), 'utf8')) as Genome;
}

/** Returns the TOTK_ROOT genome before signing (a fresh copy). */
export function totkUnsignedGenome(): Genome {
  return JSON.parse(readFileSync(join(TOTK, 'genome-unsigned.json'), 'utf8')) as Genome;
}

/**
 * Returns a copy of a JSON value with every object's keys in sorted order: a genome as the API
 * server sends it (Go writes map keys sorted).
 */
export function sortedKeys<T>(value: T): T {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return sort(value) as T;
}

/**
 * Returns a genome signed by `key` whose canonical form is at most `bytes` long, made of the
 * TOTK_ROOT genome's invariants and capabilities repeated (so the mix of strings and objects is
 * that of a real genome).
 */
export function genomeOfSize(bytes: number, key: TestKeyPair): Genome {
  const totk = totkUnsignedGenome();
  const base = {
    ...totk,
    authority: genome(declaring(key)).authority,
    invariants: [],
    capabilities: [],
  };
  const invariants: Genome['invariants'] = [];
  const capabilities: Genome['capabilities'] = [];
  // The canonical size grows by each item's JSON (key order does not change its length) and
  // a comma after the first item of its array: counted, not re-serialized, so a 1 MB genome
  // takes milliseconds to make.
  let size = canonicalBytes(base).length;
  const add = <T>(list: T[], item: T): boolean => {
    const grown = size + JSON.stringify(item).length + (list.length > 0 ? 1 : 0);
    if (grown > bytes) return false;
    list.push(item);
    size = grown;
    return true;
  };
  // Add an invariant, then a capability, while the genome stays within the size.
  for (let i = 0; ; i += 1) {
    const inv = totk.invariants[i % totk.invariants.length]!;
    if (!add(invariants, { ...inv, id: `${inv.id}-${i}` })) break;
    const cap = totk.capabilities[i % totk.capabilities.length]!;
    if (!add(capabilities, { ...cap, cap_id: `${cap.cap_id}-${i}` })) break;
  }
  const sized = { ...base, invariants, capabilities };
  if (canonicalBytes(sized).length !== size) throw new Error('genomeOfSize miscounted');
  return signWith(sized, key);
}

/**
 * Builders for tests: genomes and keys made on the spot. Lives in core/ because unit tests of
 * core/ use it; it imports nothing but node:crypto and core/.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalBytes } from './canonical.ts';
import type { Genome } from './genome.ts';
import { withSignature } from './sign.ts';
import { parseTrustedKeys, type TrustedKey } from './trust.ts';

/** A test signer: key id, public key (base64 SPKI) and private key object. */
export interface TestSigner {
  keyId: string;
  publicKey: string;
  privateKey: KeyObject;
}

/** Makes a fresh Ed25519 signer. */
export function makeSigner(keyId: string): TestSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    keyId,
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    privateKey,
  };
}

/** An unsigned genome declaring the given signers; override any field. */
export function makeGenome(signers: TestSigner[], overrides: Partial<Genome> = {}): Genome {
  return {
    schema_version: 'genome.v0.1',
    name: 'TEST_GENOME',
    version: '1.2.3',
    parents: [],
    created_at: '2026-01-01T00:00:00Z',
    authority: {
      signers: signers.map((s) => ({ key_id: s.keyId, alg: 'ed25519', public_key: s.publicKey })),
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
    ...overrides,
  };
}

/** Signs a genome's canonical bytes with each signer in turn, as genome-sign does. */
export function signWith(genome: Genome, ...signers: TestSigner[]): Genome {
  let out = genome;
  for (const s of signers) {
    const sig = sign(null, canonicalBytes(out), s.privateKey).toString('base64');
    out = withSignature(out, { alg: 'ed25519', signer_key_id: s.keyId, sig_base64: sig });
  }
  return out;
}

/** Trusted keys for the given signers (throws if one is refused: a broken fixture). */
export function trust(
  ...signers: { keyId: string; publicKey: string; test?: boolean }[]
): TrustedKey[] {
  const set = parseTrustedKeys(
    signers.map((s) => ({
      keyId: s.keyId,
      value: s.publicKey,
      source: 'test',
      test: s.test ?? false,
    })),
  );
  if (set.problems.length > 0) throw new Error(set.problems.map((p) => p.message).join('; '));
  return set.keys;
}

/**
 * A copy of a JSON value with every object's keys in sorted order: a genome as the API server
 * sends it (Go writes map keys sorted).
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
 * The parts of a pod spec the pod webhook injects (core/plan-injection.ts), for pods that tests
 * and benchmarks create directly: the readiness gate, the boot check first, the genome mounted
 * read-only with MATHISON_GENOME_PATH in every container, and the volume from `configMap`.
 */
export function injectedPodSpec(
  configMap: string,
  containers: { name: string; image: string }[] = [],
) {
  const image = 'genome.local/none:0';
  return {
    readinessGates: [{ conditionType: 'genome.mathison.io/verified' }],
    initContainers: [{ name: 'genome-verify', image }],
    containers: [
      {
        name: 'mathison',
        image,
        env: [{ name: 'MATHISON_GENOME_PATH', value: '/etc/mathison/genome/genome.json' }],
        volumeMounts: [
          { name: 'mathison-genome', mountPath: '/etc/mathison/genome', readOnly: true },
        ],
      },
      ...containers,
    ],
    volumes: [{ name: 'mathison-genome', configMap: { name: configMap } }],
  };
}

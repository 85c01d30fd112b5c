/**
 * Genome admission CPU per request under many trust policies and keys beside one policy and a
 * few keys, in the same run (issue 21: "admission with 20 policies and 200 trust keys in the
 * cluster: within 5% of admission with one policy"). In process, over the webhook's decision
 * (webhook/validate-genome.ts decideGenomeAdmission), with a view of each shape:
 * - one: the `default` policy and 3 keys in one trust Secret;
 * - many: 20 policies (4 match the namespace: default, production with a quorum and a
 *   required signer, a Warn on genome names, an Audit; 16 select other teams or names) and
 *   200 keys in 20 trust Secrets.
 * Two workloads: a new genome on every request (its signatures verified: what a create costs)
 * and the same genome again (its signature results cached: the judgement is all that is left,
 * the worst case for the ratio). CPU is process.cpuUsage (user + system) over a batch, in
 * interleaved rounds; medians. BENCH_ROUNDS, BENCH_GENOMES, BENCH_PASSES set the size.
 */
import type { Genome } from '../core/genome.ts';
import { trustFromSecrets, type TrustedKey } from '../core/trust.ts';
import { DEFAULT_TRUST_POLICY, type TrustPolicy } from '../core/trust-policy.ts';
import { MAX_GENOME_BYTES, SignatureCache } from '../core/verify.ts';
import {
  declaring,
  genome,
  genomeResource,
  inNamespace,
  keyPair,
  named,
  signedBy,
  sortedKeys,
  threshold,
  withFields,
  type TestKeyPair,
} from '../test/builders/index.ts';
import type { AdmissionRequest } from '../webhook/admission.ts';
import { decideGenomeAdmission, type AdmissionTrust } from '../webhook/validate-genome.ts';
import { median } from './measure.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const genomes = Number(process.env.BENCH_GENOMES ?? 300);
/** Passes over the genomes per sample (each with new signature results). */
const passes = Number(process.env.BENCH_PASSES ?? 4);
const NAMESPACE = 'payments-prod';
const LABELS = { env: 'production', team: 'payments' };

const prod1 = keyPair('prod-1');
const prod2 = keyPair('prod-2');
const officer = keyPair('security-officer-1');

/** A trust Secret as the API server gives it (data base64). */
function secret(name: string, pairs: readonly TestKeyPair[]) {
  return {
    metadata: { namespace: 'genome-system', name },
    data: Object.fromEntries(
      pairs.map((k) => [k.keyId, Buffer.from(k.publicKey).toString('base64')] as const),
    ),
  };
}

function keysOf(secrets: ReturnType<typeof secret>[]): TrustedKey[] {
  const set = trustFromSecrets(secrets);
  if (set.problems.length > 0) throw new Error(set.problems.map((p) => p.message).join('; '));
  return set.keys;
}

const enforce = (name: string, spec: Omit<TrustPolicy['spec'], 'mode'>): TrustPolicy => ({
  name,
  spec: { mode: 'Enforce', ...spec },
});

/** 20 policies: 4 match a production genome of the payments team, 16 do not. */
function manyPolicies(): TrustPolicy[] {
  const production = enforce('production', {
    match: { namespaceSelector: { matchLabels: { env: 'production' } } },
    keys: { secretRefs: [{ name: 'prod-signers' }] },
    threshold: 2,
    requiredKeyIds: [officer.keyId],
    maxAge: '8760h',
  });
  const warnNames: TrustPolicy = {
    name: 'bench-names',
    spec: { mode: 'Warn', match: { genomeNames: ['BENCH_*'] } },
  };
  const audit: TrustPolicy = { name: 'audit-all', spec: { mode: 'Audit', threshold: 3 } };
  const others = Array.from({ length: 16 }, (_, i) =>
    enforce(`team-${i}`, {
      match: {
        namespaceSelector: {
          matchLabels: { team: `team-${i}` },
          matchExpressions: [{ key: 'env', operator: 'In', values: ['production', 'staging'] }],
        },
        ...(i % 2 === 0 && { genomeNames: [`TEAM_${i}_*`, 'SHARED_?'] }),
      },
      keys: { secretRefs: [{ name: `team-${i}-signers` }] },
      threshold: 2,
    }),
  );
  return [DEFAULT_TRUST_POLICY, production, warnNames, audit, ...others];
}

/** 200 keys: the 3 production signers and 197 others, in 20 Secrets. */
function manyKeys(): TrustedKey[] {
  const others = Array.from({ length: 197 }, (_, i) => keyPair(`team-key-${i}`));
  const secrets = [secret('prod-signers', [prod1, prod2, officer])];
  for (let s = 0; s < 19; s += 1)
    secrets.push(
      secret(s < 16 ? `team-${s}-signers` : `spare-${s}`, others.slice(s * 11, s * 11 + 11)),
    );
  const keys = keysOf(secrets);
  if (keys.length !== 200) throw new Error(`expected 200 keys, have ${keys.length}`);
  return keys;
}

function view(policies: TrustPolicy[], keys: TrustedKey[]): AdmissionTrust {
  return {
    keys: () => keys,
    policies: () => policies,
    namespaceLabels: (ns) => (ns === NAMESPACE ? LABELS : {}),
    synced: () => true,
  };
}

function request(g: Genome, i: number): AdmissionRequest {
  return {
    uid: `uid-${i}`,
    kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
    operation: 'CREATE',
    namespace: NAMESPACE,
    name: `g-${i}`,
    // As the API server sends it: parsed JSON, object keys sorted.
    object: sortedKeys(genomeResource(`g-${i}`, g, inNamespace(NAMESPACE))),
  };
}

const views = {
  one: view([DEFAULT_TRUST_POLICY], keysOf([secret('prod-signers', [prod1, prod2, officer])])),
  many: view(manyPolicies(), manyKeys()),
};
// Signed now, so that the production policy's maxAge holds whenever the bench runs.
const createdAt = withFields({ created_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
const fresh = Array.from({ length: genomes }, (_, i) =>
  request(
    genome(
      declaring(prod1, prod2, officer),
      signedBy(prod1, officer),
      threshold(2),
      named(`BENCH_${i}`),
      createdAt,
    ),
    i,
  ),
);

/**
 * CPU microseconds per request of deciding `requests` under `trust`, `passes` times over;
 * `signatures` gives each pass its signature cache (a new one: every signature verified).
 */
function cpuPerRequest(
  trust: AdmissionTrust,
  requests: readonly AdmissionRequest[],
  signatures: () => SignatureCache,
  passes: number,
): number {
  const start = process.cpuUsage();
  for (let n = 0; n < passes; n += 1) {
    const options = { maxBytes: MAX_GENOME_BYTES, signatures: signatures(), now: Date.now() };
    for (const r of requests) {
      const decision = decideGenomeAdmission(r, trust, options);
      if (!decision.response.allowed) throw new Error(decision.response.status?.message);
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (requests.length * passes);
}

type Shape = keyof typeof views;
const samples = {
  fresh: { one: [] as number[], many: [] as number[] },
  again: { one: [] as number[], many: [] as number[] },
};
const warm = new Map<Shape, SignatureCache>();
const same = fresh.slice(0, 1);

for (let round = -1; round < rounds; round += 1) {
  // Alternate which shape goes first, so that drift hits both alike; round -1 warms the JIT.
  const order: Shape[] = round % 2 === 0 ? ['one', 'many'] : ['many', 'one'];
  for (const shape of order) {
    const newGenomes = cpuPerRequest(views[shape], fresh, () => new SignatureCache(), passes);
    const signatures = warm.get(shape) ?? new SignatureCache();
    warm.set(shape, signatures);
    const again = cpuPerRequest(views[shape], same, () => signatures, genomes * passes * 8);
    if (round >= 0) {
      samples.fresh[shape].push(newGenomes);
      samples.again[shape].push(again);
    }
  }
}

const line = (label: string, s: { one: number[]; many: number[] }) => {
  const one = median(s.one);
  const many = median(s.many);
  const ratio = one > 0 ? (many / one).toFixed(3) : 'n/a';
  console.log(
    `${label.padEnd(34)} 1 policy/3 keys ${one.toFixed(1).padStart(8)} µs   20 policies/200 keys ${many.toFixed(1).padStart(8)} µs   ratio ${ratio}`,
  );
};
console.log(
  `node ${process.version}, ${rounds} rounds of ${passes} passes over ${genomes} genomes, median CPU per admission (user + system)`,
);
line('a new genome each request', samples.fresh);
line('the same genome again (cached)', samples.again);

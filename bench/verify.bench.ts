/**
 * Verdicts per second beside raw Ed25519 verifications per second, measured in the same run:
 * a 4 KB genome with one signature and a ~1 MB genome. Also compares Node's built-in
 * Ed25519 with @noble/ed25519 (strict mode), the measurement behind docs/adr/0001.
 */
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519, verifyEd25519Noble } from '../core/ed25519.ts';
import type { Genome } from '../core/genome.ts';
import { makeGenome, makeSigner, signWith, trust } from '../core/test-fixtures.ts';
import { verify } from '../core/verify.ts';
import { compare, fmt } from './measure.ts';

const signer = makeSigner('bench-key');
const trusted = trust(signer);
const key = trusted[0]!.key;

/** A signed genome whose canonical form is about `bytes` long. */
function genomeOfSize(bytes: number): Genome {
  const base = makeGenome([signer]);
  const capability = (i: number) => ({
    cap_id: `CAP-${i}`,
    risk_class: 'B' as const,
    allow_actions: ['memory_read_node', 'memory_search', `action_${i}`],
    deny_actions: ['genome_write'],
  });
  const perCapability = JSON.stringify(capability(1000)).length + 1;
  const count = Math.max(1, Math.floor((bytes - canonicalBytes(base).length) / perCapability));
  return signWith(
    { ...base, capabilities: Array.from({ length: count }, (_, i) => capability(i)) },
    signer,
  );
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const ms = Number(process.env.BENCH_MS ?? 400);
console.log(`node ${process.version}, ${rounds} rounds of ${ms} ms, median rates (ops/s)\n`);

/**
 * The genome as the webhook and the operator receive it: parsed from the API server's JSON,
 * whose objects have sorted keys (Go writes map keys in order). Set BENCH_AUTHOR_ORDER=1 to
 * measure genomes whose keys are in authoring order instead (the CLI's case), which takes
 * the slower rebuild path of canonicalJson.
 */
function asApiServerSends(genome: Genome): Genome {
  if (process.env.BENCH_AUTHOR_ORDER === '1') return genome;
  return JSON.parse(canonicalJsonWithSignatures(genome)) as Genome;
}

function canonicalJsonWithSignatures(genome: Genome): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sortKeys(genome));
}

const order =
  process.env.BENCH_AUTHOR_ORDER === '1'
    ? 'authoring order'
    : 'sorted, as the API server sends them';
console.log(`object keys: ${order}`);
for (const [label, size] of [
  ['4 KB', 4096],
  ['1 MB', 990_000],
] as const) {
  const genome = asApiServerSends(genomeOfSize(size));
  const message = canonicalBytes(genome);
  const signature = Buffer.from(genome.signature!.sig_base64, 'base64');
  const check = verify(genome, trusted);
  if (!check.ok) throw new Error(`benchmark genome does not verify: ${check.code}`);
  const results = compare(
    {
      verdict: () => verify(genome, trusted),
      rawNode: () => verifyEd25519(key, message, signature),
      rawNoble: () => verifyEd25519Noble(key.raw, message, signature),
    },
    rounds,
    size > 100_000 ? ms * 2 : ms,
  );
  const ratio = results.verdict! / results.rawNode!;
  console.log(`${label} genome (${message.length} canonical bytes, 1 signature)`);
  console.log(`  verify() verdicts/s            ${fmt(results.verdict!)}`);
  console.log(
    `  raw Ed25519 (Node) verifies/s  ${fmt(results.rawNode!)}   ratio verdict/raw = ${ratio.toFixed(2)}`,
  );
  console.log(
    `  raw Ed25519 (noble strict) /s  ${fmt(results.rawNoble!)}   Node is ${(results.rawNode! / results.rawNoble!).toFixed(1)}x noble\n`,
  );
}

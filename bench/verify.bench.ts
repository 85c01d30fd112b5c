/**
 * Verdicts per second beside raw Ed25519 verifications per second, measured in the same run:
 * a 4 KB genome with one signature and a ~1 MB genome. Also compares Node's built-in
 * Ed25519 with @noble/ed25519 (strict mode), the measurement behind docs/adr/0001.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519, verifyEd25519Noble } from '../core/ed25519.ts';
import type { Genome } from '../core/genome.ts';
import { makeGenome, makeSigner, signWith, trust } from '../core/test-fixtures.ts';
import { verify } from '../core/verify.ts';
import { compare, fmt } from './measure.ts';

const TOTK = join(import.meta.dirname, '..', 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json');
const signer = makeSigner('bench-key');
const trusted = trust(signer);
const key = trusted[0]!.key;

/**
 * A signed genome whose canonical form is about `bytes` long, made of the real TOTK_ROOT
 * genome's invariants and capabilities repeated (so the mix of strings and objects is that
 * of a real genome), signed by the benchmark key.
 */
function genomeOfSize(bytes: number): Genome {
  const totk = JSON.parse(readFileSync(TOTK, 'utf8')) as Genome;
  const base = {
    ...totk,
    authority: makeGenome([signer]).authority,
    invariants: [],
    capabilities: [],
  };
  const invariants: Genome['invariants'] = [];
  const capabilities: Genome['capabilities'] = [];
  const size = () => canonicalBytes({ ...base, invariants, capabilities }).length;
  // Add an invariant, then a capability, while the genome stays within the size.
  for (let i = 0; ; i += 1) {
    const inv = totk.invariants[i % totk.invariants.length]!;
    invariants.push({ ...inv, id: `${inv.id}-${i}` });
    if (size() > bytes) {
      invariants.pop();
      break;
    }
    const cap = totk.capabilities[i % totk.capabilities.length]!;
    capabilities.push({ ...cap, cap_id: `${cap.cap_id}-${i}` });
    if (size() > bytes) {
      capabilities.pop();
      break;
    }
  }
  return signWith({ ...base, invariants, capabilities }, signer);
}

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

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const ms = Number(process.env.BENCH_MS ?? 400);
console.log(`node ${process.version}, ${rounds} rounds of ${ms} ms, median rates (ops/s)`);
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

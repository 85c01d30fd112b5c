/**
 * Verdicts per second beside raw Ed25519 verifications per second, measured in the same run:
 * a 4 KB genome with one signature and a ~1 MB genome. Also compares Node's built-in
 * Ed25519 with @noble/ed25519 (strict mode), the measurement behind docs/adr/0001.
 */
import { canonicalBytes } from '../core/canonical.ts';
import { verifyEd25519, verifyEd25519Noble } from '../core/ed25519.ts';
import type { Genome } from '../core/genome.ts';
import { genomeOfSize, keyPair, sortedKeys, trusted } from '../test/builders/index.ts';
import { verify } from '../core/verify.ts';
import { compare, fmt } from './measure.ts';

const signer = keyPair('bench-key');
const trustedKeys = trusted(signer);
const key = trustedKeys[0]!.key;

/**
 * The genome as the webhook and the operator receive it: parsed from the API server's JSON,
 * whose objects have sorted keys (Go writes map keys in order). Set BENCH_AUTHOR_ORDER=1 to
 * measure genomes whose keys are in authoring order instead (the CLI's case), which takes
 * the slower rebuild path of canonicalJson.
 */
function asApiServerSends(genome: Genome): Genome {
  if (process.env.BENCH_AUTHOR_ORDER === '1') return genome;
  return sortedKeys(genome);
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
  const genome = asApiServerSends(genomeOfSize(size, signer));
  const message = canonicalBytes(genome);
  const signature = Buffer.from(genome.signature!.sig_base64, 'base64');
  const check = verify(genome, trustedKeys);
  if (!check.ok) throw new Error(`benchmark genome does not verify: ${check.code}`);
  const results = compare(
    {
      verdict: () => verify(genome, trustedKeys),
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

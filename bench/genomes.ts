/** Benchmark genomes: TOTK-shaped genomes of a given canonical size, signed by a bench key. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '../core/canonical.ts';
import type { Genome } from '../core/genome.ts';
import { makeGenome, signWith, type TestSigner } from '../core/test-fixtures.ts';

const TOTK = join(import.meta.dirname, '..', 'genomes', 'TOTK_ROOT_v1.0.0', 'genome-unsigned.json');

/**
 * A signed genome whose canonical form is at most `bytes` long, made of the real TOTK_ROOT
 * genome's invariants and capabilities repeated (so the mix of strings and objects is that of
 * a real genome).
 */
export function genomeOfSize(bytes: number, signer: TestSigner): Genome {
  const totk = JSON.parse(readFileSync(TOTK, 'utf8')) as Genome;
  const base = {
    ...totk,
    authority: makeGenome([signer]).authority,
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
  const genome = { ...base, invariants, capabilities };
  if (canonicalBytes(genome).length !== size) throw new Error('genomeOfSize miscounted');
  return signWith(genome, signer);
}

import { hash } from 'node:crypto';

/**
 * Returns the canonical JSON text of a genome, byte-identical to Mathison's loader: the
 * top-level `signature` and `signatures` are removed, every object is rebuilt with its keys
 * sorted by JavaScript's default sort, arrays keep their order, and the result is
 * JSON.stringify'd. Rebuilding matters: a JavaScript object enumerates array-index keys
 * ("0", "42") first, in numeric order, so for such keys this is not RFC 8785's order.
 *
 * Fast path: a nested value whose objects already enumerate their keys in sorted order (as
 * the API server sends them, since Go writes map keys sorted) is used as it is, since
 * rebuilding it would change nothing. `nestedKeysSorted` is validateGenome's answer to that
 * question for the whole document; without it each value is checked here.
 */
export function canonicalJson(genome: object, nestedKeysSorted = false): string {
  const document = genome as Record<string, unknown>;
  const unsigned: Record<string, unknown> = {};
  // Plain assignment, as Mathison does: even a "__proto__" key (which the schema refuses)
  // behaves exactly as it does there.
  for (const key of Object.keys(document).sort()) {
    if (key === 'signature' || key === 'signatures') continue;
    const value = document[key];
    unsigned[key] = nestedKeysSorted || isSortedDeep(value) ? value : sortedDeep(value);
  }
  return JSON.stringify(unsigned);
}

/**
 * Returns the canonical bytes of a genome (UTF-8 of canonicalJson): what is signed. Pass
 * nestedKeysSorted only as validateGenome reported it.
 */
export function canonicalBytes(genome: object, nestedKeysSorted = false): Uint8Array {
  return Buffer.from(canonicalJson(genome, nestedKeysSorted), 'utf8');
}

/** Returns the genome id: lowercase hex SHA-256 of the canonical bytes. */
export function genomeId(genome: object): string {
  return sha256Hex(canonicalBytes(genome));
}

/** Returns the lowercase hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    out[key] = sortedDeep((value as Record<string, unknown>)[key]);
  }
  return out;
}

/**
 * True when every object in the value enumerates its keys in strictly ascending order, so
 * that rebuilding it sorted would change nothing. for-in allocates no key array; were an
 * inherited key ever enumerated, the answer could only turn false, which is merely slower.
 */
function isSortedDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!isSortedDeep(item)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && !(previous < key)) return false;
    if (!isSortedDeep((value as Record<string, unknown>)[key])) return false;
    previous = key;
  }
  return true;
}

import { hash } from 'node:crypto';

/**
 * Returns the canonical JSON text of a genome, byte-identical to Mathison's loader: the
 * top-level `signature` and `signatures` are removed, every object is rebuilt with its keys
 * sorted by JavaScript's default sort, arrays keep their order, and the result is
 * JSON.stringify'd. Rebuilding matters: a JavaScript object enumerates array-index keys
 * ("0", "42") first, in numeric order, so for such keys this is not RFC 8785's order.
 *
 * Fast path: when every object of the document already enumerates its keys in sorted order
 * (as the API server sends them, since Go writes map keys sorted), rebuilding would change
 * nothing, and the document is stringified as it is.
 */
export function canonicalJson(genome: object, nestedKeysSorted = false): string {
  const document = genome as Record<string, unknown>;
  let out = '{';
  // The top level is written here, so that the signature fields are skipped without copying.
  for (const key of enumerationOrder(Object.keys(document))) {
    if (key === 'signature' || key === 'signatures') continue;
    const value = document[key];
    if (!serializable(value)) continue;
    if (out.length > 1) out += ',';
    const sorted = nestedKeysSorted || isSortedDeep(value);
    out += `${JSON.stringify(key)}:${JSON.stringify(sorted ? value : sortedDeep(value))}`;
  }
  return `${out}}`;
}

/** JSON.stringify omits properties whose value is undefined, a function or a symbol. */
function serializable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
}

/** The order in which an object built with these keys inserted in sorted order enumerates them. */
function enumerationOrder(keys: string[]): string[] {
  keys.sort();
  if (!keys.some(isArrayIndex)) return keys;
  const indices = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return [...indices, ...keys.filter((k) => !isArrayIndex(k))];
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
  // Plain assignment, as Mathison does: even a "__proto__" key (which the schema refuses)
  // then behaves exactly as it does there.
  for (const key of Object.keys(value).sort())
    out[key] = sortedDeep((value as Record<string, unknown>)[key]);
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

import { createHash } from 'node:crypto';

const encoder = new TextEncoder();

/**
 * Returns the canonical JSON text of a genome, byte-identical to Mathison's loader: the
 * top-level `signature` and `signatures` are removed, every object's keys are sorted with
 * JavaScript's default sort, arrays keep their order, and the result is JSON.stringify'd.
 *
 * Mathison builds a new object with the sorted keys and stringifies it. A JavaScript object
 * enumerates array-index keys ("0", "7", "42") first, in numeric order, whatever the insertion
 * order; this serializer reproduces that directly, without building intermediate objects.
 */
export function canonicalJson(genome: object): string {
  const parts: string[] = [];
  writeObject(genome as Record<string, unknown>, parts, true);
  return parts.join('');
}

/** Returns the canonical bytes of a genome (UTF-8 of canonicalJson): what is signed. */
export function canonicalBytes(genome: object): Uint8Array {
  return encoder.encode(canonicalJson(genome));
}

/** Returns the genome id: lowercase hex SHA-256 of the canonical bytes. */
export function genomeId(genome: object): string {
  return sha256Hex(canonicalBytes(genome));
}

/** Returns the lowercase hex SHA-256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
}

/** Orders keys as JSON.stringify would enumerate an object built in sorted order. */
function enumerationOrder(keys: string[]): string[] {
  keys.sort();
  if (!keys.some(isArrayIndex)) return keys;
  const indices = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return [...indices, ...keys.filter((k) => !isArrayIndex(k))];
}

function writeValue(value: unknown, parts: string[]): boolean {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    if (text === undefined) return false; // undefined, functions, symbols: omitted like JSON.stringify
    parts.push(text);
    return true;
  }
  if (Array.isArray(value)) writeArray(value, parts);
  else writeObject(value as Record<string, unknown>, parts, false);
  return true;
}

function writeArray(values: unknown[], parts: string[]): void {
  parts.push('[');
  for (let i = 0; i < values.length; i += 1) {
    if (i > 0) parts.push(',');
    if (!writeValue(values[i], parts)) parts.push('null');
  }
  parts.push(']');
}

function writeObject(object: Record<string, unknown>, parts: string[], topLevel: boolean): void {
  parts.push('{');
  let first = true;
  for (const key of enumerationOrder(Object.keys(object))) {
    if (topLevel && (key === 'signature' || key === 'signatures')) continue;
    const mark = parts.length;
    parts.push(first ? '' : ',', JSON.stringify(key), ':');
    if (writeValue(object[key], parts)) first = false;
    else parts.length = mark;
  }
  parts.push('}');
}

import { MAX_JSON_DEPTH } from './strict-json.ts';

/** What stands in for a value nested deeper than jsonText keeps. */
export const CLIPPED = '…[nested too deep]';

/**
 * The JSON text of a value that came from JSON.parse (a watch event, an API response), which
 * never throws: JSON.stringify overflows the stack on a value a few thousand levels deep, which
 * anyone who can store an object may send. Such a value is serialized with everything below
 * MAX_JSON_DEPTH + 1 levels replaced by CLIPPED: still deeper than any genome may be, so it is
 * refused as it would have been whole, and never verified or published.
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return JSON.stringify(clipDepth(value, MAX_JSON_DEPTH + 1));
  }
}

/** A copy of `value` with whatever lies below `depth` levels replaced by CLIPPED. */
export function clipDepth(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth <= 0) return CLIPPED;
  if (Array.isArray(value)) return value.map((v) => clipDepth(v, depth - 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, k, {
      value: clipDepth(v, depth - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

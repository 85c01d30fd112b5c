/**
 * YAML that kubectl reads back exactly as written. kubectl reads YAML 1.1 (go-yaml), where
 * U+0085, U+2028 and U+2029 are line breaks, `yes`, `on`, `0x1F` and `1:20` are not strings,
 * and `<<` is a merge key; YAML 1.2 tools disagree on all of these. So every string value is
 * written double-quoted (and every key too, but for lowercase identifiers such as `apiVersion`
 * that are not YAML 1.1 words), and every character outside printable ASCII is an escape
 * (`\uXXXX`, or `\UXXXXXXXX` above the BMP, since go-yaml refuses escaped surrogates), which
 * YAML 1.1 and 1.2 readers decode identically. The output is printable ASCII and LF only.
 */

/** A value toKubectlYaml can write: JSON with integer numbers (all a manifest holds). */
export type YamlValue =
  null | boolean | number | string | YamlValue[] | { [key: string]: YamlValue };

/**
 * Returns a JSON value (as JSON.parse makes it) as block YAML that kubectl reads back
 * identical. Throws on what it cannot write exactly: a lone surrogate, a number that is not
 * a safe integer, or a value JSON does not have.
 */
export function toKubectlYaml(value: unknown): string {
  if (!isNonEmptyCollection(value)) return `${scalar(value)}\n`;
  return `${block(value, '').join('\n')}\n`;
}

function isNonEmptyCollection(value: unknown): value is unknown[] | Record<string, unknown> {
  if (Array.isArray(value)) return value.length > 0;
  return value !== null && typeof value === 'object' && Object.keys(value).length > 0;
}

/** The lines of a non-empty mapping or sequence, each starting with `indent`. */
function block(value: unknown[] | Record<string, unknown>, indent: string): string[] {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) lines.push(...entry(`${indent}-`, item, `${indent}  `, true));
  } else {
    for (const [key, item] of Object.entries(value)) {
      lines.push(...entry(`${indent}${keyText(key)}:`, item, `${indent}  `, false));
    }
  }
  return lines;
}

/** One mapping entry or sequence item: a scalar on its line, or a nested block. */
function entry(head: string, item: unknown, inner: string, inSequence: boolean): string[] {
  if (!isNonEmptyCollection(item)) return [`${head} ${scalar(item)}`];
  const nested = block(item, inner);
  if (!inSequence) return [head, ...nested];
  // A collection in a sequence starts on the dash's line: "- key: value", "- - item".
  return [`${head} ${(nested[0] as string).slice(inner.length)}`, ...nested.slice(1)];
}

/** Identifiers that no YAML reader takes for anything but a string; the rest are quoted. */
const PLAIN_KEY = /^[a-z][A-Za-z0-9_]*$/;
const YAML_1_1_WORDS = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null']);

/** Some YAML 1.1 readers (the `yaml` package) take `e1` for a float. */
const FLOAT_LIKE = /^e[0-9]+$/;

function keyText(key: string): string {
  const plain = PLAIN_KEY.test(key) && !YAML_1_1_WORDS.has(key) && !FLOAT_LIKE.test(key);
  return plain ? key : quoted(key);
}

function scalar(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return '[]';
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'boolean':
      return String(value);
    case 'number':
      // Only integers: YAML 1.1 reads a float such as 1e3 (no dot) as a string.
      if (!Number.isSafeInteger(value)) throw new Error(`cannot write the number ${value} as YAML`);
      return String(value);
    case 'object':
      return '{}';
    default:
      throw new Error(`cannot write a ${typeof value} as YAML`);
  }
}

const NAMED: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t' };

/** A double-quoted YAML scalar holding exactly `text`, in printable ASCII. */
function quoted(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (NAMED[char] !== undefined) out += NAMED[char];
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else if (code >= 0xd800 && code <= 0xdfff)
      throw new Error('cannot write a lone surrogate as YAML');
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/**
 * The one way text from a genome (or any other input) is made safe to show a person: on a
 * terminal, in a webhook denial that kubectl prints, in an Event or a log line.
 *
 * Escaped, as `\u{hex}` of the code point: control characters (C0, DEL, C1), Unicode format
 * characters (category Cf: the bidi controls U+202A–U+202E and U+2066–U+2069, U+061C, the
 * zero-width characters U+200B–U+200F and U+2060–U+2064, U+FEFF, U+00AD, tag characters, ...),
 * the line and paragraph separators U+2028 and U+2029, every space other than U+0020, lone
 * surrogates, and a few letters that draw nothing (U+115F, U+1160, U+3164, U+FFA0, U+034F,
 * U+2800). A run of more than MAX_SPACE_RUN spaces is shown as `\u{20}*N`. Each of these could
 * otherwise reorder, hide or push text so that it draws a line the program did not print.
 *
 * Clipped: a value longer than its limit keeps its first characters, then `…[N characters]`
 * with N its original length. Backslashes are left as they are: to see exact bytes, read the
 * file itself.
 */

import { keyFingerprint, privateKeyKind } from './key-material.ts';

/** Longest value shown whole inside a message (a name, a version, a field); see docs/limits.md. */
export const MAX_DISPLAY_CHARS = 256;

/** Longest whole message shown (a refusal reason with its values already clipped). */
export const MAX_MESSAGE_CHARS = 4096;

/** Longest run of spaces shown as spaces; longer runs are shown as a count. */
export const MAX_SPACE_RUN = 8;

const UNSAFE_CLASS =
  '[\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Cs}\\u115f\\u1160\\u3164\\uffa0\\u2800]|\\u034f|[^\\P{Zs} ]';
const UNSAFE = new RegExp(`${UNSAFE_CLASS}| {${MAX_SPACE_RUN + 1},}`, 'gu');
const HAS_UNSAFE = new RegExp(`${UNSAFE_CLASS}| {${MAX_SPACE_RUN + 1}}`, 'u');

/** The escaped form of one unsafe match: a code point, or a run of spaces. */
function escapeMatch(match: string): string {
  if (match.startsWith('  ')) return `\\u{20}*${match.length}`;
  return `\\u{${(match.codePointAt(0) as number).toString(16)}}`;
}

/** Escapes what must not reach a terminal or log raw (see the module comment). No clipping. */
export function escapeText(text: string): string {
  return HAS_UNSAFE.test(text) ? text.replace(UNSAFE, escapeMatch) : text;
}

/** Where to cut text to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutAt(text: string, max: number): number {
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

/** Shows text safely: escaped, and clipped to `maxChars` with its original length noted. */
export function displayText(text: string, maxChars: number = MAX_DISPLAY_CHARS): string {
  if (text.length <= maxChars) return escapeText(text);
  return `${escapeText(text.slice(0, cutAt(text, maxChars)))}…[${text.length} characters]`;
}

/** Shows a whole message safely (escaped, clipped at MAX_MESSAGE_CHARS). */
export function displayMessage(text: string): string {
  return displayText(text, MAX_MESSAGE_CHARS);
}

/**
 * Shows a value from input inside a message: strings JSON-quoted, anything else as JSON;
 * escaped and clipped like displayText. A string that looks like private key material
 * (core/key-material.ts) is named by its fingerprint instead, whatever field it came from: a
 * refusal's message reaches kubectl, logs, Events and status. Never throws.
 */
export function displayValue(value: unknown, maxChars: number = MAX_DISPLAY_CHARS): string {
  if (typeof value === 'string') {
    const kind = privateKeyKind(value);
    if (kind !== undefined)
      return `(${value.length} characters that look like ${kind}; not shown: ${keyFingerprint(value)})`;
    if (value.length <= maxChars) return escapeText(JSON.stringify(value));
    const head = JSON.stringify(value.slice(0, cutAt(value, maxChars)));
    return `${escapeText(head)}…[${value.length} characters]`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return displayText(text, maxChars);
}

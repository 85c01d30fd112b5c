/**
 * Genome-derived text on its way to status, Events and logs: control characters, bidi
 * overrides and zero-width characters are shown as \u escapes, and the text is bounded.
 * A stand-in until the core display/escape function (branch `cli`) lands; every caller
 * goes through this one function so the switch is one line.
 */
export function shown(text: string, max = 1024): string {
  const escaped = text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return escaped.length <= max ? escaped : `${escaped.slice(0, max - 1)}…`;
}

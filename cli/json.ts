/**
 * JSON for a terminal or a pipe: one document whose every character outside printable ASCII
 * is written as a \u escape, so that text from a genome or a tenant (bidi controls, C1
 * controls, escapes) reaches no terminal as it is, and JSON.parse reads back exactly that text.
 */
export function asciiJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )}\n`;
}

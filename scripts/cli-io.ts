import { readFileSync, statSync } from 'node:fs';
import { REFUSAL_CODES, refuse, type Refusal } from '../core/codes.ts';

/** Thrown by CLI helpers to end the program with a refusal (exit 1, no stack trace). */
export class CliRefusal extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

/**
 * Reads a text file for a CLI, refusing with a stable code and a plain message: a missing
 * path, a directory, a file over maxBytes (checked before reading), an empty file, or bytes
 * that are not UTF-8.
 */
export function readTextFile(path: string, what: string, maxBytes: number): string {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory())
      throw new CliRefusal(
        refuse('GENOME_UNREADABLE', `${what} ${path} is a directory, not a file`),
      );
    size = stat.size;
  } catch (err) {
    if (err instanceof CliRefusal) throw err;
    throw new CliRefusal(
      refuse('GENOME_MISSING', `${what} ${path} does not exist or cannot be read`),
    );
  }
  if (size > maxBytes) {
    throw new CliRefusal(
      refuse('GENOME_TOO_LARGE', `${what} ${path} is ${size} bytes, over the limit of ${maxBytes}`),
    );
  }
  const bytes = readFileSync(path);
  if (bytes.length === 0)
    throw new CliRefusal(refuse('GENOME_UNREADABLE', `${what} ${path} is empty`));
  try {
    // ignoreBOM keeps a byte-order mark in the text, so that the strict parser refuses it.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CliRefusal(refuse('GENOME_UNREADABLE', `${what} ${path} is not UTF-8 text`));
  }
}

/** Formats a refusal for people: the code, the message, what it means and what to do. */
export function formatRefusal(refusal: Refusal): string {
  const info = REFUSAL_CODES[refusal.code];
  return [
    `REFUSED ${refusal.code}`,
    ...(refusal.field === undefined ? [] : [`  field:      ${printable(refusal.field)}`]),
    `  reason:     ${printable(refusal.message)}`,
    `  meaning:    ${info.meaning}`,
    `  what to do: ${info.action}`,
  ].join('\n');
}

/**
 * Runs a CLI body: a CliRefusal prints its refusal and exits 1; any other error prints its
 * message (never a stack trace) and exits 1.
 */
export function runCli(body: () => number | Promise<number>): void {
  Promise.resolve()
    .then(body)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        if (err instanceof CliRefusal) console.error(formatRefusal(err.refusal));
        else console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
      },
    );
}

/** Throws a usage refusal-free error with the usage line. */
export function usage(line: string): never {
  throw new Error(`usage: ${line}`);
}

/**
 * Makes text from a genome safe to print on a terminal: control characters (which could fake
 * a VERIFIED line or hide a refusal) are shown as escapes.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// eslint-disable-next-line no-control-regex -- these are exactly what must not reach a terminal
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

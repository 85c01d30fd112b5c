import { displayText, escapeText } from './display.ts';

/** Longest string value written whole into a log line; longer ones are clipped. */
export const MAX_LOG_VALUE_CHARS = 8192;

/** Structured fields of a log line: namespace/name, genome id, code, and so on. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Never give it key material. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * Returns a logger writing one JSON object per line to `write`, with a time from `now`. Every
 * string (message, field values and keys) goes through core/display.ts: escaped, so that
 * genome text cannot put control, bidi or separator characters into a log viewer, and clipped
 * at MAX_LOG_VALUE_CHARS.
 */
export function jsonLogger(
  write: (line: string) => void,
  base: LogFields = {},
  now: () => Date = () => new Date(),
): Logger {
  const log =
    (level: string) =>
    (message: string, fields: LogFields = {}) =>
      write(
        `${serialise({ time: now().toISOString(), level, msg: message, ...base, ...fields })}\n`,
      );
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * The JSON text of a log record: exactly JSON.stringify(record, errorReplacer). A record of
 * primitive values under keys that need no escaping (every admission's line) is escaped
 * directly and serialised without a replacer, which costs a fraction of calling one per value;
 * anything else (an Error, a nested object, a key to escape) takes the replacer.
 */
function serialise(record: LogFields): string {
  const flat: LogFields = {};
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (key === '__proto__' || escapeText(key) !== key)
      return JSON.stringify(record, errorReplacer);
    if (typeof value === 'string') flat[key] = displayText(value, MAX_LOG_VALUE_CHARS);
    else if (isPrimitive(value)) flat[key] = value;
    else return JSON.stringify(record, errorReplacer);
  }
  return JSON.stringify(flat);
}

/** Values JSON.stringify writes as they are (or leaves out, for undefined) without a replacer. */
function isPrimitive(value: unknown): boolean {
  return (
    value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean'
  );
}

/**
 * Errors serialize as their message (JSON.stringify(err) would print {}); strings and object
 * keys are shown safely (core/display.ts).
 */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return displayText(value.message, MAX_LOG_VALUE_CHARS);
  if (typeof value === 'string') return displayText(value, MAX_LOG_VALUE_CHARS);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeText(k), v]));
  }
  return value;
}

/** A logger that adds `fields` to every line of `logger`. */
export function withFields(logger: Logger, fields: LogFields): Logger {
  return {
    info: (message, more) => logger.info(message, { ...fields, ...more }),
    warn: (message, more) => logger.warn(message, { ...fields, ...more }),
    error: (message, more) => logger.error(message, { ...fields, ...more }),
  };
}

/** The message of a thrown value, for a log field. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

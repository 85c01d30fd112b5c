import { displayText, escapeText } from './display.ts';
import { choiceOf } from './settings.ts';

/** The levels of a log line, least severe first. A logger at a level drops the lines below it. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The level named by a setting (--log-level, GENOME_LOG_LEVEL), in any case; refused otherwise. */
export function logLevelOf(flag: string, text: string): LogLevel {
  return choiceOf(flag, text.toLowerCase(), LOG_LEVELS);
}

/** Longest string value written whole into a log line; longer ones are clipped. */
export const MAX_LOG_VALUE_CHARS = 8192;

/** Structured fields of a log line: namespace/name, genome id, code, and so on. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Never give it key material. */
export interface Logger {
  /** What only someone debugging wants (each reconcile); dropped unless the level is debug. */
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * Returns a logger writing one JSON object per line to `write`, with a time from `now`. Every
 * string (message, field values and keys) goes through core/display.ts: escaped, so that
 * genome text cannot put control, bidi or separator characters into a log viewer, and clipped
 * at MAX_LOG_VALUE_CHARS. Lines below `level` are dropped before anything is built.
 */
export function jsonLogger(
  write: (line: string) => void,
  base: LogFields = {},
  now: () => Date = () => new Date(),
  level: LogLevel = 'info',
): Logger {
  const lowest = LOG_LEVELS.indexOf(level);
  const log = (at: LogLevel) =>
    LOG_LEVELS.indexOf(at) < lowest
      ? () => {}
      : (message: string, fields: LogFields = {}) =>
          write(
            `${serialise({ time: now().toISOString(), level: at, msg: message, ...base, ...fields })}\n`,
          );
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
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

/** Where a batched logger's lines go, and how to write what is pending at once. */
export interface LineBatch {
  write(line: string): void;
  /** Writes the pending lines now; call it at process exit. */
  flush(): void;
}

/**
 * The default size at which a batch is written before the turn ends (in UTF-16 units): ~50
 * admission lines, and well under a pipe's 64 KiB, so that one write does not fill the pipe.
 */
export const MAX_BATCH_CHARS = 16 * 1024;

/**
 * Gathers the lines written during one turn of the event loop and hands them to `write` as one
 * text at the end of that turn (a setImmediate, which runs after the turn's I/O callbacks),
 * or as soon as they reach `maxChars`. Under load the webhook logs a line per admission and
 * several admissions complete in one turn; each write to a pipe is a system call that costs more
 * than building the line (docs/benchmarks.md), so a batch costs about what one line did.
 * Lines keep their order. The caller flushes at process exit, and before writing anything to
 * another stream (stderr), so that the two keep their order. At exit the pending text is handed
 * to stdout, which is best effort as it always was: Node does not wait for a full pipe before the
 * process ends. A process killed outright loses the lines of its last turn.
 */
export function batchedLines(
  write: (text: string) => void,
  maxChars: number = MAX_BATCH_CHARS,
): LineBatch {
  let pending: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    size = 0;
    write(text);
  };
  const atTurnEnd = () => {
    scheduled = false;
    flush();
  };
  return {
    write(line) {
      pending.push(line);
      size += line.length;
      if (size >= maxChars) flush();
      else if (!scheduled) {
        scheduled = true;
        // unref: a pending batch never keeps the process alive; the exit flush writes it.
        setImmediate(atTurnEnd).unref();
      }
    },
    flush,
  };
}

/**
 * The process's log lines on stdout, batched per turn (batchedLines), with what is pending
 * written when the process exits. The webhook's and the operator's mains log through it; they
 * flush it before they write a fatal error to stderr.
 */
export function stdoutLines(): LineBatch {
  const lines = batchedLines((text) => process.stdout.write(text));
  process.on('exit', lines.flush);
  return lines;
}

/** A logger that adds `fields` to every line of `logger`. */
export function withFields(logger: Logger, fields: LogFields): Logger {
  return {
    debug: (message, more) => logger.debug(message, { ...fields, ...more }),
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
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

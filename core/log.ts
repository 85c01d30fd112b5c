/** Structured fields of a log line: namespace/name, genome id, code, and so on. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Never give it key material. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Returns a logger writing one JSON object per line to `write`, with a time from `now`. */
export function jsonLogger(
  write: (line: string) => void,
  base: LogFields = {},
  now: () => Date = () => new Date(),
): Logger {
  const log =
    (level: string) =>
    (message: string, fields: LogFields = {}) =>
      write(
        `${JSON.stringify({ time: now().toISOString(), level, msg: message, ...base, ...fields }, errorReplacer)}\n`,
      );
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

/** Errors serialize as their message (JSON.stringify(err) would print {}). */
function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
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

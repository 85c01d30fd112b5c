import { describe, expect, it } from 'vitest';
import { jsonLogger, MAX_LOG_VALUE_CHARS } from './log.ts';

const capture = () => {
  const lines: string[] = [];
  const log = jsonLogger(
    (line) => lines.push(line),
    {},
    () => new Date(0),
  );
  return { lines, log };
};

describe('jsonLogger', () => {
  it('writes one JSON object per line with the time, level, message and fields', () => {
    const { lines, log } = capture();
    log.info('genome admitted', { namespace: 'ns', err: new Error('boom') });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'genome admitted',
      namespace: 'ns',
      err: 'boom',
    });
  });

  it('escapes genome text: no raw control, bidi or separator character reaches the log', () => {
    const { lines, log } = capture();
    const hostile = 'a\u001b[2J\rb\u202ec\u2066d\u2028e\u200bf\ufeffg\u0085h';
    log.warn(hostile, { message: hostile, nested: { [`k\u202e`]: hostile } });
    const line = lines[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(
      // eslint-disable-next-line no-control-regex -- these are what must not reach the log
      /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/,
    );
    const parsed = JSON.parse(line);
    expect(parsed.msg).toBe(
      'a\\u{1b}[2J\\u{d}b\\u{202e}c\\u{2066}d\\u{2028}e\\u{200b}f\\u{feff}g\\u{85}h',
    );
    expect(parsed.message).toBe(parsed.msg);
  });

  it('clips a long value and says how long it was', () => {
    const { lines, log } = capture();
    log.info('x', { version: 'v'.repeat(3_900_000) });
    expect(lines[0]!.length).toBeLessThan(MAX_LOG_VALUE_CHARS + 200);
    expect(JSON.parse(lines[0]!).version).toMatch(/…\[3900000 characters\]$/);
  });
});

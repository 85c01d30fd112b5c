import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { displayText, escapeText } from './display.ts';
import { batchedLines, jsonLogger, logLevelOf, MAX_LOG_VALUE_CHARS, withFields } from './log.ts';

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

/** The serialisation before the fast path: the reference the fast path must equal. */
function referenceLine(record: Record<string, unknown>): string {
  const replacer = (_key: string, value: unknown): unknown => {
    if (value instanceof Error) return displayText(value.message, MAX_LOG_VALUE_CHARS);
    if (typeof value === 'string') return displayText(value, MAX_LOG_VALUE_CHARS);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeText(k), v]));
    }
    return value;
  };
  return `${JSON.stringify(record, replacer)}\n`;
}

describe('jsonLogger fast path', () => {
  const hostile = ['', 'plain', 'a\u001b[2Jb', '\u202e\u2066', 'x'.repeat(9000), 'é日本\u{1f600}'];
  const values: unknown[] = [
    ...hostile,
    0,
    -1.5,
    Number.NaN,
    Infinity,
    true,
    false,
    null,
    undefined,
    new Error('boom\u202e'),
    { [`k\u202e`]: 'v\u0007', inner: { x: 1 } },
    ['a\u2028', 2, null],
    () => 1,
    Symbol('s'),
    new Date(0),
  ];
  const keys = ['namespace', 'k\u202e', '__proto__', 'ms', 'a b', '0', 'msg', 'time'];

  it('writes exactly what JSON.stringify with the replacer wrote, for every key and value mix', () => {
    const { lines, log } = capture();
    const expected: string[] = [];
    // Every value under every key, alone and in pairs: the fast path, the fallback, and both.
    for (const [i, key] of keys.entries()) {
      for (const [j, value] of values.entries()) {
        const other = values[(i * 7 + j * 3) % values.length];
        const fields = JSON.parse(JSON.stringify({ uid: 'u' })) as Record<string, unknown>;
        Object.defineProperty(fields, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        fields.extra = other;
        log.info(hostile[j % hostile.length]!, fields);
        expected.push(
          referenceLine({
            time: '1970-01-01T00:00:00.000Z',
            level: 'info',
            msg: hostile[j % hostile.length],
            ...fields,
          }),
        );
      }
    }
    expect(lines).toEqual(expected);
  });

  it('writes an admission line unchanged', () => {
    const { lines, log } = capture();
    const fields = {
      namespace: 'ns',
      name: 'g\u202e',
      operation: 'CREATE',
      dryRun: false,
      uid: 'uid-1',
      genomeId: 'ab'.repeat(32),
      code: undefined,
      message: undefined,
      skipped: undefined,
      ms: 0.123456,
    };
    log.info('genome admitted', fields);
    expect(lines).toEqual([
      referenceLine({
        time: '1970-01-01T00:00:00.000Z',
        level: 'info',
        msg: 'genome admitted',
        ...fields,
      }),
    ]);
  });
});

describe('batchedLines', () => {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('writes the lines of one turn together, in order, at the end of the turn', async () => {
    const writes: string[] = [];
    const batch = batchedLines((text) => writes.push(text));
    batch.write('a\n');
    batch.write('b\n');
    batch.write('c\n');
    expect(writes).toEqual([]);
    await turn();
    expect(writes).toEqual(['a\nb\nc\n']);
    batch.write('d\n');
    await turn();
    expect(writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes as soon as the pending lines reach the limit, and the rest at the turn end', async () => {
    const writes: string[] = [];
    const batch = batchedLines((text) => writes.push(text), 6);
    batch.write('12\n');
    batch.write('34\n');
    expect(writes).toEqual(['12\n34\n']);
    batch.write('5\n');
    await turn();
    expect(writes).toEqual(['12\n34\n', '5\n']);
  });

  it('flush writes what is pending at once, and nothing when nothing is', async () => {
    const writes: string[] = [];
    const batch = batchedLines((text) => writes.push(text));
    batch.flush();
    batch.write('x\n');
    batch.flush();
    expect(writes).toEqual(['x\n']);
    await turn();
    expect(writes).toEqual(['x\n']);
  });

  it('carries jsonLogger lines unchanged', async () => {
    const writes: string[] = [];
    const batch = batchedLines((text) => writes.push(text));
    const log = jsonLogger(batch.write, {}, () => new Date(0));
    log.info('one', { n: 1 });
    log.warn('two\u202e');
    await turn();
    expect(writes).toHaveLength(1);
    expect(
      writes[0]!
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { time: '1970-01-01T00:00:00.000Z', level: 'info', msg: 'one', n: 1 },
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'two\\u{202e}' },
    ]);
  });
});

describe('stdoutLines', () => {
  /** Runs a module importing jsonLogger and stdoutLines; `joined`: stderr into stdout, as a container runtime's log. */
  const run = (body: string[], joined = false) => {
    const script = [
      `import { jsonLogger, stdoutLines } from ${JSON.stringify(join(import.meta.dirname, 'log.ts'))};`,
      ...body,
    ].join('\n');
    const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e'];
    const options = { encoding: 'utf8', timeout: 30_000 } as const;
    if (!joined) return spawnSync(node[0]!, [...node.slice(1), script], options);
    return spawnSync('sh', ['-c', `"${node.join('" "')}" "$SCRIPT" 2>&1`], {
      ...options,
      env: { ...process.env, SCRIPT: script },
    });
  };

  it('writes the lines still pending when the process exits', () => {
    const child = run([
      `const log = jsonLogger(stdoutLines().write);`,
      `log.info('first'); log.error('last words');`,
      `process.exit(3);`,
    ]);
    expect(child.status).toBe(3);
    expect(
      child.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['first', 'last words']);
  });

  it('writes them after an uncaught exception too, before the stack trace', () => {
    const child = run([
      `const log = jsonLogger(stdoutLines().write);`,
      `log.info('before the crash');`,
      `throw new Error('crash');`,
    ]);
    expect(child.status).toBe(1);
    expect(child.stdout).toContain('before the crash');
    expect(child.stderr).toContain('crash');
  });

  it('flushed before a fatal line on stderr, the two keep their order in one log', () => {
    // As the mains' fatal paths do.
    const child = run(
      [
        `const lines = stdoutLines();`,
        `jsonLogger(lines.write).info('starting');`,
        `lines.flush(); process.stderr.write('failed to start\\n'); process.exit(1);`,
      ],
      true,
    );
    expect(child.stdout.indexOf('starting')).toBeGreaterThanOrEqual(0);
    expect(child.stdout.indexOf('starting')).toBeLessThan(child.stdout.indexOf('failed to start'));
  });
});

describe('the log level', () => {
  const at = (level?: Parameters<typeof jsonLogger>[3]) => {
    const lines: string[] = [];
    const log = jsonLogger(
      (line) => lines.push(line),
      {},
      () => new Date(0),
      level,
    );
    for (const method of ['debug', 'info', 'warn', 'error'] as const) log[method](method);
    return lines.map((line) => JSON.parse(line).level);
  };

  it('is info by default: debug lines are dropped', () => {
    expect(at()).toEqual(['info', 'warn', 'error']);
  });

  it('writes the lines at and above the level', () => {
    expect(at('debug')).toEqual(['debug', 'info', 'warn', 'error']);
    expect(at('warn')).toEqual(['warn', 'error']);
    expect(at('error')).toEqual(['error']);
  });

  it('holds through withFields', () => {
    const lines: string[] = [];
    const log = withFields(
      jsonLogger(
        (line) => lines.push(line),
        {},
        () => new Date(0),
        'warn',
      ),
      { controller: 'gate' },
    );
    log.debug('a');
    log.info('b');
    log.warn('c');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'c', controller: 'gate' },
    ]);
  });

  it('is read strictly: one of debug, info, warn, error (any case), anything else is refused', () => {
    expect(logLevelOf('log-level', 'DEBUG')).toBe('debug');
    expect(logLevelOf('log-level', 'warn')).toBe('warn');
    expect(() => logLevelOf('log-level', 'verbose')).toThrow(
      '--log-level must be one of debug, info, warn, error, not "verbose"',
    );
  });
});

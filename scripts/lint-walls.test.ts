import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The walls of eslint.config.js, proven on snippets linted as if they stood at a path of the
// repository: each import across a wall is refused there, and what the walls allow passes.
const ROOT = join(import.meta.dirname, '..');
// The repository's own config, without type information: the project service reads files from
// the disk, these snippets never touch it, and neither the walls nor the limits need types.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});
const WALL_RULES = new Set(['walls/imports', 'max-statements', 'max-lines-per-function']);

/** The wall and size errors ESLint reports for `code` as the file at `path` (relative to the root). */
async function wallErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return result!.messages
    .filter((m) => m.ruleId !== null && WALL_RULES.has(m.ruleId))
    .map((m) => `${m.ruleId}: ${m.message}`);
}

/** A module that imports `source` and uses what it imported. */
const importing = (source: string) => `import * as other from '${source}';\nexport { other };\n`;

/** A function of `n` statements (and as many lines). */
const statements = (n: number) =>
  `export function long(): number {\n  let n = 0;\n${'  n += 1;\n'.repeat(n - 2)}  return n;\n}\n`;

describe('the import walls', { timeout: 60_000 }, () => {
  const refused: { name: string; path: string; code: string; wall: RegExp }[] = [
    {
      name: 'core imports kube',
      path: 'core/wall-probe.ts',
      code: importing('../kube/errors.ts'),
      wall: /core\/ is the pure base.*\.\.\/kube\/errors\.ts/,
    },
    {
      name: 'kube imports the operator',
      path: 'kube/wall-probe.ts',
      code: importing('../operator/settings.ts'),
      wall: /kube\/ is a library over core\/: it imports no program/,
    },
    {
      name: 'kube imports a script',
      path: 'kube/wall-probe.ts',
      code: importing('../cli/io.ts'),
      wall: /kube\/ is a library over core\/: it imports no program/,
    },
    {
      name: 'tls imports the webhook',
      path: 'tls/wall-probe.ts',
      code: importing('../webhook/app.ts'),
      wall: /tls\/ is a library/,
    },
    {
      name: 'the operator imports the webhook',
      path: 'operator/wall-probe.ts',
      code: importing('../webhook/app.ts'),
      wall: /operator\/ and webhook\/ never import each other/,
    },
    {
      name: 'the webhook imports the operator, from a folder deeper down',
      path: 'webhook/some/deeper/wall-probe.ts',
      code: importing('../../../operator/settings.ts'),
      wall: /operator\/ and webhook\/ never import each other/,
    },
    {
      name: 'the webhook imports the operator with import()',
      path: 'webhook/wall-probe.ts',
      code: `export const later = () => import('../operator/settings.ts');\n`,
      wall: /operator\/ and webhook\/ never import each other/,
    },
    {
      name: 'the operator re-exports the webhook',
      path: 'operator/wall-probe.ts',
      code: `export { createApp } from '../webhook/app.ts';\n`,
      wall: /operator\/ and webhook\/ never import each other/,
    },
    {
      name: 'the product imports a test helper',
      path: 'webhook/wall-probe.ts',
      code: importing('../test/support/cluster.ts'),
      wall: /the product imports nothing of the tests or their harness/,
    },
    {
      name: 'the product imports the benchmarks',
      path: 'operator/wall-probe.ts',
      code: importing('../bench/measure.ts'),
      wall: /the product imports nothing of the tests or their harness/,
    },
    {
      name: 'the product imports a *fixtures.ts file that lives in core/',
      path: 'operator/wall-probe.ts',
      code: importing('../core/sample-fixtures.ts'),
      wall: /the product imports nothing of the tests or their harness/,
    },
    {
      name: 'core imports a test beside it',
      path: 'core/wall-probe.ts',
      code: importing('./verify.test.ts'),
      wall: /the product imports nothing of the tests or their harness/,
    },
  ];

  it.each(refused)('refuses: $name', async ({ path, code, wall }) => {
    const errors = await wallErrors(path, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^walls\/imports: /);
    expect(errors[0]).toMatch(wall);
  });

  const allowed: { name: string; path: string; code: string }[] = [
    { name: 'core imports core', path: 'core/wall-probe.ts', code: importing('./verify.ts') },
    { name: 'kube imports core', path: 'kube/wall-probe.ts', code: importing('../core/api.ts') },
    { name: 'tls imports kube', path: 'tls/wall-probe.ts', code: importing('../kube/errors.ts') },
    {
      name: 'the operator imports kube and tls',
      path: 'operator/wall-probe.ts',
      code:
        importing('../kube/informer.ts') + importing('../tls/material.ts').replace(/other/g, 't'),
    },
    {
      name: 'a unit test imports a *fixtures.ts file',
      path: 'operator/wall-probe.test.ts',
      code: importing('../core/sample-fixtures.ts'),
    },
    {
      name: 'a cluster test imports the operator and its harness',
      path: 'test/wall-probe.test.ts',
      code:
        importing('../operator/settings.ts') +
        importing('./support/cluster.ts').replace(/other/g, 's'),
    },
    {
      name: 'a script imports core',
      path: 'scripts/wall-probe.ts',
      code: importing('../core/verify.ts'),
    },
    { name: 'a package', path: 'core/wall-probe.ts', code: importing('node:crypto') },
  ];

  it.each(allowed)('allows: $name', async ({ path, code }) => {
    expect(await wallErrors(path, code)).toEqual([]);
  });
});

describe('the function-size limits', { timeout: 60_000 }, () => {
  it('refuse a product function of 200 statements, on both counts', async () => {
    const errors = await wallErrors('operator/wall-probe.ts', statements(200));
    expect(errors).toEqual([
      expect.stringMatching(/^max-lines-per-function: .*too many lines \(202\)/),
      expect.stringMatching(/^max-statements: .*too many statements \(200\)/),
    ]);
  });

  it('allow a product function of 20 statements', async () => {
    expect(await wallErrors('kube/wall-probe.ts', statements(20))).toEqual([]);
  });

  it('give tests room, but not without end', async () => {
    expect(await wallErrors('test/wall-probe.test.ts', statements(60))).toEqual([]);
    expect(await wallErrors('test/wall-probe.test.ts', statements(200))).toEqual([
      expect.stringMatching(/^max-statements: .*\(200\)/),
    ]);
  });
});

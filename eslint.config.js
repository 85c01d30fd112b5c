import { dirname, relative, resolve, sep } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/**
 * The walls between our folders: what each product folder may import of ours (its own folder
 * included), and why. The product is what ships in the image: the programs in cmd/ and the
 * folders they import (core/, kube/, tls/, operator/, webhook/, cli/). scripts/, images/,
 * examples/ and the harness are not walled in: they use the product.
 */
const WALLS = {
  core: { may: ['core'], why: 'core/ is the pure base: it imports nothing of ours outside core/' },
  kube: {
    may: ['core', 'kube'],
    why: 'kube/ is a library over core/: it imports no program (operator/, webhook/, scripts/), and not tls/ (tls/ imports kube/)',
  },
  tls: {
    may: ['core', 'kube', 'tls'],
    why: 'tls/ is a library over core/ and kube/: it imports no program (operator/, webhook/, scripts/)',
  },
  operator: {
    may: ['core', 'kube', 'tls', 'operator'],
    why: 'operator/ and webhook/ never import each other (or scripts/): share through core/, kube/ or tls/',
  },
  webhook: {
    may: ['core', 'kube', 'tls', 'webhook'],
    why: 'operator/ and webhook/ never import each other (or scripts/): share through core/, kube/ or tls/',
  },
  cli: {
    may: ['core', 'kube', 'tls', 'cli'],
    why: "cli/ is the command-line tools' code: it imports no other program (operator/, webhook/, cmd/) and nothing of the dev harness (scripts/, images/)",
  },
  cmd: {
    may: ['core', 'kube', 'tls', 'operator', 'webhook', 'cli', 'cmd'],
    why: 'cmd/ holds the programs that ship in the image: they import the product folders, never the dev harness (scripts/, images/, cluster/, bench/, test/)',
  },
};

const HARNESS_WHY =
  'the product imports nothing of the tests or their harness (*.test.ts, *fixtures.ts, test/, bench/, cluster/)';

/** A path relative to the repository, with forward slashes. */
const repoPath = (path) => relative(ROOT, path).split(sep).join('/');

/** Tests, their fixtures, and the harness that runs them (test/, bench/, cluster/). */
const isHarness = (path) =>
  /^(test|bench|cluster)\//.test(path) || /(\.test|fixtures)\.ts$/.test(path);

/**
 * walls/imports: a relative import from a product folder must land in a folder WALLS allows,
 * and product code never imports the harness (tests may import fixtures and the harness).
 * A rule of our own rather than no-restricted-imports: it resolves the path (so `../kube/`
 * means the same from any depth), sees `import()` and `export ... from` too, and does not
 * replace the other no-restricted-imports blocks (core's purity, the TLS planner's).
 */
const importWalls = {
  meta: {
    type: 'problem',
    docs: { description: 'imports cross only the walls between our folders' },
    schema: [],
  },
  create(context) {
    const from = repoPath(context.filename);
    const wall = WALLS[from.split('/')[0]];
    if (wall === undefined) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = repoPath(resolve(dirname(context.filename), source));
      if (to.startsWith('../')) return; // outside the repository: not ours
      const message = isHarness(to)
        ? isHarness(from)
          ? undefined
          : HARNESS_WHY
        : wall.may.includes(to.split('/')[0])
          ? undefined
          : wall.why;
      if (message !== undefined) context.report({ node, message: `${message}: ${source}` });
    };
    const fromSource = (node) => check(node, node.source?.value);
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: fromSource,
      TSImportType: (node) => check(node, node.argument?.literal?.value),
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.cluster/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { walls: { rules: { imports: importWalls } } },
    rules: {
      'walls/imports': 'error',
      complexity: ['error', 10],
      'max-depth': ['error', 3],
      'max-params': ['error', 4],
      // Small functions: a closure of 150 lines that wires a whole controller is several
      // functions waiting to be named. Statements count each function's own body (a nested
      // function counts for itself); lines count the whole function, blanks and comments aside.
      'max-statements': ['error', 20],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // core/ is pure: no filesystem, network, HTTP framework or Kubernetes client.
    files: ['core/**/*.ts'],
    ignores: ['core/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'fs',
            'node:fs',
            'fs/promises',
            'node:fs/promises',
            'net',
            'node:net',
            'http',
            'node:http',
            'https',
            'node:https',
            'child_process',
            'node:child_process',
            'express',
            '@kubernetes/client-node',
          ].map((name) => ({
            name,
            message: 'core/ is pure: do I/O in kube/, */main.ts or scripts/',
          })),
        },
      ],
    },
  },
  {
    // The TLS rotation planner and the material it reads are pure: I/O lives in the sources and the store.
    files: ['tls/rotation-plan.ts', 'tls/material.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            '@kubernetes/client-node',
            'node:fs',
            'node:fs/promises',
            'node:net',
            'node:https',
          ].map((name) => ({
            name,
            message: 'the rotation planner is pure: do I/O in the sources or the store',
          })),
        },
      ],
    },
  },
  {
    // Tests and scripts may be longer and more procedural.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      complexity: 'off',
      'max-depth': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // A describe() is as long as its cases; a benchmark's run reads best as one sequence.
      'max-lines-per-function': 'off',
      'max-statements': ['error', 60],
    },
  },
  {
    // client-node's KubeConfig opens a TLS connection per request; kube/kubeconfig.ts pools them.
    files: ['**/*.ts'],
    ignores: ['kube/kubeconfig.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='KubeConfig']",
          message:
            'use PooledKubeConfig (kube/kubeconfig.ts): one connection pool, not one per request',
        },
      ],
    },
  },
);

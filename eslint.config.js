import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.cluster/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      complexity: ['error', 10],
      'max-depth': ['error', 3],
      'max-params': ['error', 4],
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
    rules: { complexity: 'off', 'max-depth': 'off', '@typescript-eslint/no-explicit-any': 'off' },
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

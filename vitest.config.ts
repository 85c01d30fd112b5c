import { defineConfig } from 'vitest/config';

// Two tiers: fast pure unit tests beside the code, and integration tests in test/ that run
// against a real kube-apiserver started by the harness in globalSetup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'core/**/*.test.ts',
            'kube/**/*.test.ts',
            'tls/**/*.test.ts',
            'webhook/**/*.test.ts',
            'operator/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

// Three tiers: fast pure unit tests beside the code, integration tests in test/ that run
// against a real kube-apiserver started by the harness in globalSetup, and node tests in
// test/node/ against a control plane with a real node (Linux and root only).
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
            'cli/**/*.test.ts',
            'cmd/**/*.test.ts',
            'scripts/**/*.test.ts',
            'images/**/*.test.ts',
            'cluster/**/*.test.ts',
            'examples/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/node/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Opt-in tier: a real node (kubelet, containerd, CNI, kube-proxy) beside the control plane.
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          globalSetup: ['test/node/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      // Some unit tests start the CLI or a service to check exit 2; they share two cores with the integration stack.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // One real stack on a 2-core machine: files run one after another.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 300_000,
        },
      },
      // helm lint/template, strict offline schema validation and promtool over charts/; needs `npm run setup`.
      { test: { name: 'charts', include: ['test/charts/**/*.test.ts'], testTimeout: 120_000 } },
      // One real node (control plane, containerd, kubelet, kube-proxy, CoreDNS, kube-router) with the chart installed,
      // shared by every file; needs root and `npm run setup -- --with-node` (npm run test:cluster runs it).
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          // One cluster on a 2-core machine: files run one after another.
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});

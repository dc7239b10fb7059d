import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
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
    ],
  },
});

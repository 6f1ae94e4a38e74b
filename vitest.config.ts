import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Tests run against package sources, so a test run never sees a stale build.
    conditions: ['@kafka-sidecar/source'],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers; two cores, so keep files parallel but bounded.
    pool: 'forks',
    maxWorkers: 2,
  },
})

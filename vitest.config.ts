import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Tests run against package sources, so a test run never sees a stale build. Vitest runs test
  // files in Vite's SSR environment, which takes its conditions from `ssr.resolve`.
  resolve: { conditions: ['@kafka-sidecar/source'] },
  ssr: { resolve: { conditions: ['@kafka-sidecar/source', 'node', 'import', 'default'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers; two cores, so keep files parallel but bounded.
    pool: 'forks',
    maxWorkers: 2,
  },
})

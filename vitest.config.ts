import { defineConfig } from 'vitest/config'

/**
 * Tests that load the whole machine on purpose (benchmarks, faults under continuous load, several
 * processes and brokers at once). They run after the others, two at a time, never beside the
 * tests that measure an in-process sidecar's event loop (its stall guard refuses requests read
 * after a stall, and a second of stall on two busy cores is what those loads cause).
 */
const UNDER_LOAD = [
  'examples/compare-modes/test/**/*.test.ts',
  'packages/client/test/consumer/e2e-faults-under-load.test.ts',
  'packages/client/test/consumer/e2e-sidecar-faults.test.ts',
  'packages/client/test/reliability/sidecar-sigkill-under-load.test.ts',
  'packages/client/test/reliability/broker-faults.test.ts',
  'packages/sidecar/test/hop-floor-bench.test.ts',
]

export default defineConfig({
  // Tests run against package sources, so a test run never sees a stale build. Vitest runs test
  // files in Vite's SSR environment, which takes its conditions from `ssr.resolve`.
  resolve: { conditions: ['@kafka-sidecar/source'] },
  ssr: { resolve: { conditions: ['@kafka-sidecar/source', 'node', 'import', 'default'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers; two cores, so keep files parallel but bounded.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
          exclude: UNDER_LOAD,
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'under-load', include: UNDER_LOAD, sequence: { groupOrder: 1 } } },
    ],
  },
})

#!/usr/bin/env node
/**
 * kafka-sidecar: reads KAFKA_* / KAFKA_SIDECAR_* environment variables and flags (flags win),
 * starts the sidecar, prints `listening: <grpc address>` and `http: <address>` once it serves,
 * and shuts down gracefully on SIGTERM/SIGINT (exit 0), or exits 2 naming a bad option.
 */
import { parseArgs } from 'node:util'
import { flagParserOptions } from '@kafka-sidecar/options'
import { optionsFromEnv, optionsFromFlags, resolveConfigAndSources, SIDECAR_OPTIONS } from './config.js'
import { SidecarConfigError } from './config-error.js'
import { helpText } from './help-text.js'
import { startResolvedSidecar, type RunningSidecar } from './sidecar.js'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ...flagParserOptions(SIDECAR_OPTIONS), help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    process.stdout.write(helpText())
    return
  }
  const { help: _help, ...flags } = values
  // Resolved here, so that errors name options as variables and flags, including those found
  // reading the files they name.
  const resolved = resolveConfigAndSources([optionsFromEnv(process.env), optionsFromFlags(flags)])
  // Signal handlers first: a SIGTERM that arrives before Node has a handler installed kills the
  // process outright (no flush, no exit 0), and a supervisor may send one as soon as it reads
  // the `listening:` line.
  let sidecar: RunningSidecar | null = null
  let stopRequested = false
  let signals = 0
  const stop = (running: RunningSidecar) =>
    running.stop().then(
      (summary) => {
        process.stdout.write(`stopped: ${summary.failedRecords} records failed at shutdown\n`)
        process.exit(0)
      },
      (error: unknown) => {
        process.stderr.write(`kafka-sidecar: shutdown failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      process.stderr.write(`kafka-sidecar: second ${signal}, exiting now\n`)
      process.exit(1)
    }
    if (sidecar) void stop(sidecar)
    else stopRequested = true
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  sidecar = await startResolvedSidecar(resolved)
  process.stdout.write(`listening: ${sidecar.address}\n`)
  process.stdout.write(`http: ${sidecar.httpAddress ?? 'off'}\n`)
  if (stopRequested) void stop(sidecar)
}

main().catch((error: unknown) => {
  const message = error instanceof SidecarConfigError || error instanceof Error ? error.message : String(error)
  process.stderr.write(`kafka-sidecar: ${message}\n`)
  process.exit(2)
})

#!/usr/bin/env node
/**
 * kafka-sidecar: reads KAFKA_* / KAFKA_SIDECAR_* environment variables and flags (flags win),
 * starts the sidecar, prints `listening: <grpc address>` and `http: <address>` once it serves,
 * and shuts down gracefully on SIGTERM/SIGINT (exit 0), or exits 2 naming a bad option.
 */
import { parseArgs } from 'node:util'
import { helpText, optionsFromEnv, optionsFromFlags, OPTIONS, resolveConfig, SidecarConfigError } from './config.js'
import { startSidecar } from './sidecar.js'

async function main(): Promise<void> {
  const flagOptions = Object.fromEntries(OPTIONS.map((s) => [s.flag, { type: s.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]))
  const { values } = parseArgs({ options: { ...flagOptions, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
  if (values.help) {
    process.stdout.write(helpText())
    return
  }
  const { help: _help, ...flags } = values
  const config = resolveConfig([optionsFromEnv(process.env), optionsFromFlags(flags)])
  const sidecar = await startSidecar({ ...config })
  process.stdout.write(`listening: ${sidecar.address}\n`)
  process.stdout.write(`http: ${sidecar.httpAddress ?? 'off'}\n`)
  let signals = 0
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      process.stderr.write(`kafka-sidecar: second ${signal}, exiting now\n`)
      process.exit(1)
    }
    sidecar.stop().then(
      (summary) => {
        process.stdout.write(`stopped: ${summary.failedRecords} records failed at shutdown\n`)
        process.exit(0)
      },
      (error: unknown) => {
        process.stderr.write(`kafka-sidecar: shutdown failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

main().catch((error: unknown) => {
  const message = error instanceof SidecarConfigError || error instanceof Error ? error.message : String(error)
  process.stderr.write(`kafka-sidecar: ${message}\n`)
  process.exit(2)
})

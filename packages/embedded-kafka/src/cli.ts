#!/usr/bin/env node
/**
 * embedded-kafka: runs a cluster until SIGINT/SIGTERM. The first line of output is always
 * `bootstrap: host:port,...` so scripts can read it and connect; with TLS the next is
 * `ca: <file>`, the CA certificate (PEM) clients should trust.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { flagNames, flagParserOptions, flagUsage, layerFromFlags } from '@kafka-sidecar/options'
import { EmbeddedKafka } from './embedded-kafka.js'
import { EMBEDDED_KAFKA_OPTIONS, EmbeddedKafkaConfigError, integerText, type EmbeddedKafkaOptions } from './options.js'
import type { LogLevel } from './server/logger.js'

function usageLine(usage: string, help: string): string {
  return `  ${usage.padEnd(26)}${help}`
}

/** The options' flags come from their table, then the CLI's own. */
const HELP = `Usage: embedded-kafka [options]

Runs a Kafka cluster in this process, speaking the Kafka wire protocol over TCP,
for development, tests and benchmarks (not for production). Prints
"bootstrap: <host:port,...>" first (with TLS, then "ca: <file>"), then runs
until SIGINT or SIGTERM.

Options:
${Object.values(EMBEDDED_KAFKA_OPTIONS)
  .flatMap((option) => ('flag' in option ? [usageLine(flagUsage(option), option.help)] : []))
  .join('\n')}
${usageLine('--topic <name[:parts]>', 'create a topic at start; repeatable')}
${usageLine('--log-level <level>', 'debug, info, warn or error: log to stderr (default: silent)')}
${usageLine('-h, --help', 'show this help')}
`

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

const FLAG_OF_OPTION: Readonly<Record<string, string>> = flagNames(EMBEDDED_KAFKA_OPTIONS)

/** The flag as the user typed it, for errors raised by parseOptions (which name options) or by reading a flag. */
function flagOf(option: string): string {
  return option.startsWith('--') ? option : `--${FLAG_OF_OPTION[option] ?? option}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...flagParserOptions(EMBEDDED_KAFKA_OPTIONS),
      topic: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return
  }
  const level = values['log-level'] as LogLevel | undefined
  if (level !== undefined && !LEVELS.includes(level))
    throw new EmbeddedKafkaConfigError('log-level', `expected one of ${LEVELS.join(', ')}`)
  const { topic: topics, 'log-level': _level, help: _help, ...flags } = values
  const options: EmbeddedKafkaOptions = Object.fromEntries(
    Object.entries(layerFromFlags(EMBEDDED_KAFKA_OPTIONS, flags)).map(([key, { value }]) => [key, value]),
  )
  if (level !== undefined) {
    const threshold = LEVELS.indexOf(level)
    options.logger = (l, message, fields) => {
      if (LEVELS.indexOf(l) >= threshold) process.stderr.write(`${JSON.stringify({ level: l, message, ...fields })}\n`)
    }
  }

  // Handlers before anything is printed: a SIGTERM sent as soon as `bootstrap:` is read must
  // find one, or it kills the process outright instead of a clean exit 0.
  let cluster: EmbeddedKafka | null = null
  let stopRequested = false
  const shutdown = () => {
    if (cluster) void cluster.stop().then(() => process.exit(0))
    else stopRequested = true
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
  cluster = await EmbeddedKafka.start(options)
  for (const spec of topics ?? []) {
    const [topic, partitions] = spec.split(':')
    await cluster.createTopic({
      topic: topic!,
      partitions: partitions === undefined ? undefined : integerText(partitions, 'topic'),
    })
  }
  const lines = [`bootstrap: ${cluster.bootstrapServers.join(',')}`]
  if (cluster.caCertificate !== undefined) lines.push(`ca: ${caFile(cluster.caCertificate)}`)
  // One write, so a reader of the first chunk has both lines.
  process.stdout.write(`${lines.join('\n')}\n`)
  if (stopRequested) shutdown()
}

/** The CA certificate in a file of its own, removed when the process exits. */
function caFile(pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'embedded-kafka-ca-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'ca.pem')
  writeFileSync(file, pem)
  return file
}

main().catch((error: unknown) => {
  const message =
    error instanceof EmbeddedKafkaConfigError
      ? `invalid value for ${flagOf(error.option)}: ${error.message.replace(/^invalid embedded-kafka option "[^"]+": /, '')}`
      : error instanceof Error
        ? error.message
        : String(error)
  process.stderr.write(`embedded-kafka: ${message}\n`)
  process.exit(2)
})

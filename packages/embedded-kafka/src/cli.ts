#!/usr/bin/env node
/**
 * embedded-kafka: runs a cluster until SIGINT/SIGTERM. The first line of output is always
 * `bootstrap: host:port,...` so scripts can read it and connect.
 */
import { parseArgs } from 'node:util'
import { EmbeddedKafka } from './embedded-kafka.js'
import { EmbeddedKafkaConfigError, type EmbeddedKafkaOptions } from './options.js'
import type { LogLevel } from './server/logger.js'

const HELP = `Usage: embedded-kafka [options]

Runs a Kafka cluster in this process, speaking the Kafka wire protocol over TCP,
for development, tests and benchmarks (not for production). Prints
"bootstrap: <host:port,...>" first, then runs until SIGINT or SIGTERM.

Options:
  --brokers <n>             number of brokers (default 3)
  --host <address>          address to listen on (default 127.0.0.1)
  --port <port>             first broker port; broker i uses port+i (default 0: free ports)
  --partitions <n>          partitions of auto-created topics (default 1)
  --no-auto-create-topics   refuse metadata requests for unknown topics instead of creating them
  --retention-bytes <n>     bytes kept per partition, oldest batches dropped first (default -1: all)
  --max-message-bytes <n>   largest record batch accepted (default 1048588)
  --topic <name[:parts]>    create a topic at start; repeatable
  --log-level <level>       debug, info, warn or error: log to stderr (default: silent)
  -h, --help                show this help
`

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** Option names as the user typed them, for errors raised by parseOptions. */
const FLAG_FOR_OPTION: Record<string, string> = {
  brokers: 'brokers',
  host: 'host',
  port: 'port',
  defaultPartitions: 'partitions',
  autoCreateTopics: 'no-auto-create-topics',
  retentionBytes: 'retention-bytes',
  maxMessageBytes: 'max-message-bytes',
}

function integerFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^-?\d+$/.test(value)) throw new EmbeddedKafkaConfigError(name, `expected an integer, got "${value}"`)
  return Number(value)
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      partitions: { type: 'string' },
      'no-auto-create-topics': { type: 'boolean' },
      'retention-bytes': { type: 'string' },
      'max-message-bytes': { type: 'string' },
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
  const options: EmbeddedKafkaOptions = {
    brokers: integerFlag('brokers', values.brokers),
    host: values.host,
    port: integerFlag('port', values.port),
    defaultPartitions: integerFlag('partitions', values.partitions),
    autoCreateTopics: values['no-auto-create-topics'] ? false : undefined,
    retentionBytes: integerFlag('retention-bytes', values['retention-bytes']),
    maxMessageBytes: integerFlag('max-message-bytes', values['max-message-bytes']),
  }
  if (level !== undefined) {
    const threshold = LEVELS.indexOf(level)
    options.logger = (l, message, fields) => {
      if (LEVELS.indexOf(l) >= threshold) process.stderr.write(`${JSON.stringify({ level: l, message, ...fields })}\n`)
    }
  }
  for (const key of Object.keys(options) as Array<keyof EmbeddedKafkaOptions>)
    if (options[key] === undefined) delete options[key]

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
  for (const spec of values.topic ?? []) {
    const [topic, partitions] = spec.split(':')
    await cluster.createTopic({ topic: topic!, partitions: integerFlag('topic', partitions) })
  }
  process.stdout.write(`bootstrap: ${cluster.bootstrapServers.join(',')}\n`)
  if (stopRequested) shutdown()
}

main().catch((error: unknown) => {
  const message =
    error instanceof EmbeddedKafkaConfigError
      ? `invalid value for --${FLAG_FOR_OPTION[error.option] ?? error.option}: ${error.message.replace(/^invalid embedded-kafka option "[^"]+": /, '')}`
      : error instanceof Error
        ? error.message
        : String(error)
  process.stderr.write(`embedded-kafka: ${message}\n`)
  process.exit(2)
})

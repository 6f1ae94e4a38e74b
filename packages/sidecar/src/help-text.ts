/** `kafka-sidecar --help`: the options table as text, so it can never omit an option. */
import { flagUsage } from '@kafka-sidecar/options'
import { OPTIONS } from './config.js'
import type { ListenAddress } from './listen-address.js'

/** `--help` text, generated from the table so it can never omit an option. */
export function helpText(): string {
  const lines = OPTIONS.map((s) => {
    const flag = flagUsage(s)
    const shown =
      s.kind === 'secret' || s.defaultValue === null
        ? '(unset)'
        : s.defaultValue === undefined
          ? '(required)'
          : JSON.stringify(
              s.defaultValue && typeof s.defaultValue === 'object' && 'kind' in s.defaultValue
                ? formatDefault(s.defaultValue as ListenAddress)
                : s.defaultValue,
            )
    return `  ${flag.padEnd(44)} ${s.env}\n      ${s.help}; default ${shown}`
  })
  return `Usage: kafka-sidecar [options]

The pod's only Kafka producer: application processes send records over gRPC; the sidecar batches
them per partition into one KafkaJS producer and reports every record's fate back.
Environment variables are read first; flags override them.

Options (flag, environment variable):
${lines.join('\n')}
  -h, --help
      show this help
`
}

function formatDefault(address: ListenAddress): string {
  return address.kind === 'unix' ? `unix://${address.path}` : `${address.host}:${address.port}`
}

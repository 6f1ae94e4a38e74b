/**
 * Every log line, KafkaJS's own and the sidecar's (they share the Kafka instance's logger), is
 * checked for the current secrets before it is written: KafkaJS logs a failed authentication with
 * the broker's text, and a broker or a custom mechanism may echo what it was given. A line holding
 * a secret anywhere (message, error, any field) is written with its message withheld and its
 * other fields dropped.
 */
import type { KafkaConfig } from 'kafkajs'
import { containsSecret, SECRET_WITHHELD } from './kafka-failure.js'

type LogCreator = NonNullable<KafkaConfig['logCreator']>

export function secretFreeLogCreator(logCreator: LogCreator, secrets: () => string[]): LogCreator {
  return (level) => {
    const write = logCreator(level)
    return (entry) => {
      // Read for every line, not cached: a secret rotated a moment ago must be withheld too.
      const known = secrets()
      if (known.length === 0 || !stringsIn(entry.log).some((text) => containsSecret(text, known))) return write(entry)
      write({ ...entry, log: { timestamp: entry.log.timestamp, message: SECRET_WITHHELD } })
    }
  }
}

/** Every string in a log entry's fields, errors' messages and stacks included, a few levels deep. */
function stringsIn(value: unknown, depth = 0): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value !== 'object' || value === null || depth > 4) return []
  const own = value instanceof Error ? [value.message, value.stack ?? ''] : []
  return [...own, ...Object.values(value).flatMap((field) => stringsIn(field, depth + 1))]
}

/**
 * A consumer's dead-letter policy (`kafka.consumer({ groupId, deadLetter })`), beyond KafkaJS and
 * the same in both modes: how many times a record's handler is tried, the backoff between tries,
 * and the topic a record that keeps failing is written to. Code only, no environment variable:
 * dead-lettering lets a partition move past records it did not process, a decision for the
 * application's code, per consumer, not for a deployment's environment shared by every consumer.
 */
import { layerFromCode, resolveOptions, type OptionDeclaration } from '@kafka-sidecar/options'
import { configError, nonNegativeInteger, nullMeansDefault, positiveInteger } from '../options.js'

export interface DeadLetterBackoffOptions {
  /** The wait before the second try. Default 300 (KafkaJS's `initialRetryTime`). */
  readonly initialMs?: number
  /** The longest wait between two tries. Default 30000 (KafkaJS's `maxRetryTime`), or `initialMs` if larger. */
  readonly maxMs?: number
  /** Each wait is the previous one times this, up to `maxMs`. Default 2. */
  readonly multiplier?: number
}

export interface DeadLetterOptions {
  /** The topic a record goes to once its handler failed `attempts` times. Required. */
  readonly topic: string
  /** Tries of a record's handler before it is dead-lettered, the first included. Default 3. */
  readonly attempts?: number
  readonly backoff?: DeadLetterBackoffOptions
}

export interface DeadLetterPolicy {
  readonly topic: string
  readonly attempts: number
  readonly backoff: Required<DeadLetterBackoffOptions>
}

/** Kafka's own rule for topic names (the broker refuses others): up to 249 of these characters. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

function checkTopic(value: unknown, source: string): string {
  if (typeof value !== 'string' || !TOPIC_NAME.test(value) || value === '.' || value === '..')
    throw configError(
      `${source} must be a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -), got ${JSON.stringify(value)}`,
    )
  return value
}

function checkMultiplier(value: unknown, source: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1)
    throw configError(`${source} must be a number of at least 1, got ${JSON.stringify(value)}`)
  return value
}

const DEFAULT_MAX_MS = 30_000

const BACKOFF_OPTIONS = {
  initialMs: nullMeansDefault(300, nonNegativeInteger),
  // Left out, it is the default or initialMs if larger: a long initialMs alone is not refused.
  maxMs: {
    check: (value: unknown, source: string, resolved: { readonly initialMs: number }) => {
      if (value === undefined || value === null) return Math.max(DEFAULT_MAX_MS, resolved.initialMs)
      const maxMs = nonNegativeInteger(value, source)
      if (maxMs < resolved.initialMs)
        throw configError(
          `${source} must be at least deadLetter.backoff.initialMs (${resolved.initialMs}), got ${maxMs}`,
        )
      return maxMs
    },
  },
  multiplier: { defaultValue: 2, check: checkMultiplier },
} as const satisfies { readonly [K in keyof DeadLetterBackoffOptions]-?: OptionDeclaration<number, never> }

function checkBackoff(value: unknown, source: string): Required<DeadLetterBackoffOptions> {
  if (value === undefined) value = {}
  if (typeof value !== 'object' || value === null)
    throw configError(`${source} must be an object, got ${JSON.stringify(value)}`)
  const sourceOf = (key: string) => `${source}.${key}`
  const layer = layerFromCode(BACKOFF_OPTIONS, value, sourceOf, unknownIn(`${source}.`))
  return resolveOptions(BACKOFF_OPTIONS, [layer], sourceOf).values
}

const DEAD_LETTER_OPTIONS = {
  topic: { check: checkTopic },
  attempts: nullMeansDefault(3, positiveInteger),
  backoff: { check: checkBackoff },
} as const

function unknownIn(prefix: string): (key: string, known: readonly string[]) => Error {
  return (key, known) => configError(`unknown option ${prefix}${key} (known: ${known.join(', ')})`)
}

/** The policy of `kafka.consumer({ deadLetter })`, or null when it is not set: then nothing is dead-lettered. */
export function resolveDeadLetter(given: unknown): DeadLetterPolicy | null {
  if (given === undefined) return null
  if (typeof given !== 'object' || given === null)
    throw configError(`deadLetter must be an object such as { topic: 'orders.dlq' }, got ${JSON.stringify(given)}`)
  const sourceOf = (key: string) => `deadLetter.${key}`
  const layer = layerFromCode(DEAD_LETTER_OPTIONS, given, sourceOf, unknownIn('deadLetter.'))
  return resolveOptions(DEAD_LETTER_OPTIONS, [layer], sourceOf).values
}

/** The wait before try `next` (2, 3, ...): initialMs, then times the multiplier each time, at most maxMs. */
export function backoffBefore(next: number, backoff: DeadLetterPolicy['backoff']): number {
  const wait = backoff.initialMs * backoff.multiplier ** Math.max(0, next - 2)
  return Math.min(backoff.maxMs, Math.round(wait))
}

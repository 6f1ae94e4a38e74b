/**
 * What an application sees when it looks at a producer (or a consumer) rather than calls it. KafkaJS's producer
 * is a plain object of its methods and `events`: `Object.keys(producer)`, a spread or a logged
 * producer show exactly those, and `const { send } = producer` works. The client's producer keeps
 * its state in fields of a class; they are made non-enumerable, and the methods own bound
 * properties, so it shows what KafkaJS's shows.
 */

/** The own enumerable properties of a KafkaJS 2.2.4 producer. */
export const KAFKAJS_PRODUCER_KEYS: ReadonlySet<string> = new Set([
  'connect',
  'disconnect',
  'isIdempotent',
  'events',
  'on',
  'send',
  'sendBatch',
  'transaction',
  'logger',
])

/** The own enumerable properties of a KafkaJS 2.2.4 consumer. */
export const KAFKAJS_CONSUMER_KEYS: ReadonlySet<string> = new Set([
  'connect',
  'disconnect',
  'subscribe',
  'stop',
  'run',
  'commitOffsets',
  'seek',
  'describeGroup',
  'pause',
  'paused',
  'resume',
  'on',
  'events',
  'logger',
])

/**
 * Binds each KafkaJS method onto `target` (a producer, or with `keys` a consumer) as an own
 * property, and hides every other own property.
 */
export function showKafkaJSSurface(target: object, keys: ReadonlySet<string> = KAFKAJS_PRODUCER_KEYS): void {
  const own = target as Record<string, unknown>
  for (const key of keys) {
    const value = own[key]
    if (typeof value === 'function' && !Object.hasOwn(target, key)) own[key] = value.bind(target)
  }
  for (const key of Object.keys(target)) {
    if (!keys.has(key)) Object.defineProperty(target, key, { enumerable: false })
  }
}

/**
 * What an application sees when it looks at a producer rather than calls it. KafkaJS's producer
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

/** Binds each KafkaJS method onto `producer` as an own property, and hides every other own property. */
export function showKafkaJSSurface(producer: object): void {
  const own = producer as Record<string, unknown>
  for (const key of KAFKAJS_PRODUCER_KEYS) {
    const value = own[key]
    if (typeof value === 'function' && !Object.hasOwn(producer, key)) own[key] = value.bind(producer)
  }
  for (const key of Object.keys(producer)) {
    if (!KAFKAJS_PRODUCER_KEYS.has(key)) Object.defineProperty(producer, key, { enumerable: false })
  }
}

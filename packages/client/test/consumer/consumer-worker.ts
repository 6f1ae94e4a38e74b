/**
 * An ordinary KafkaJS consumer program, run as one process of a pod by the multi-process tests:
 * KafkaJS's or the client's `Kafka` (WORKER_IMPORT=kafkajs|client; the client reads
 * KAFKA_SIDECAR_CONSUMER_MODE and KAFKA_SIDECAR_ADDRESS as a deployment sets them). It consumes
 * WORKER_TOPIC in group WORKER_GROUP with eachMessage (WORKER_DELAY_MS per record, so a batch takes
 * a while) and prints one JSON line per event the test reads: `record` after the handler's work
 * (processed; `t` the time, for pauses), `join` (GROUP_JOIN), `rebalancing`, `crash`, `ready` once run() resolved.
 */
const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const say = (line: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...line })}\n`)

const { Kafka, logLevel } =
  env('WORKER_IMPORT', 'client') === 'kafkajs'
    ? (await import('kafkajs')).default
    : { ...(await import('@kafka-sidecar/client')), logLevel: (await import('kafkajs')).default.logLevel }

const kafka = new Kafka({
  clientId: 'pod-app',
  brokers: env('WORKER_BROKERS').split(','),
  logLevel: logLevel.NOTHING,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
})
const delayMs = Number(env('WORKER_DELAY_MS', '0'))
const consumer = kafka.consumer({
  groupId: env('WORKER_GROUP'),
  maxWaitTimeInMs: 100,
  sessionTimeout: 6_000,
  rebalanceTimeout: 6_000,
  heartbeatInterval: 300,
})
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
  say({ event: 'join', assignment: payload.memberAssignment, duration: payload.duration, t: Date.now() }),
)
consumer.on(consumer.events.REBALANCING, () => say({ event: 'rebalancing' }))
consumer.on(consumer.events.CRASH, ({ payload }) => say({ event: 'crash', error: payload.error.message }))

await consumer.connect()
await consumer.subscribe({ topics: [env('WORKER_TOPIC')], fromBeginning: true })
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    say({ event: 'record', p: partition, o: Number(message.offset), v: message.value!.toString(), t: Date.now() })
  },
})
say({ event: 'ready' })
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => void consumer.disconnect().then(() => process.exit(0)))

/**
 * What the client's direct mode costs over plain KafkaJS: the same sends through a plain KafkaJS
 * producer and through `@kafka-sidecar/client` with KAFKA_SIDECAR_MODE=direct, on one embedded
 * cluster, rounds interleaved. The direct path waits for each send to be past KafkaJS's partition
 * lock before starting the next (so concurrent sends keep their order), which shows with many
 * small concurrent sends.
 *
 *   pnpm bench:client-direct [--rounds 3]
 */
import { parseArgs } from 'node:util'
import { Kafka as ClientKafka } from '@kafka-sidecar/client'
import { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { Kafka, logLevel, type Message } from 'kafkajs'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { rounds: { type: 'string', default: '3' } },
})
const rounds = Number(values.rounds)

interface Sender {
  send(record: { topic: string; messages: Message[] }): Promise<unknown>
}

async function recordsPerSecond(
  producer: Sender,
  topic: string,
  total: number,
  batch: number,
  concurrency: number,
): Promise<number> {
  const value = 'x'.repeat(100)
  let next = 0
  const started = performance.now()
  const lane = async () => {
    while (next < total) {
      const first = next
      next += batch
      await producer.send({
        topic,
        messages: Array.from({ length: batch }, (_, i) => ({ key: `k${(first + i) % 16}`, value })),
      })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return Math.round(total / ((performance.now() - started) / 1000))
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const cluster = await EmbeddedKafka.start({ brokers: 3, retentionBytes: 512 * 1024 * 1024 })
try {
  for (const topic of ['plain', 'client']) await cluster.createTopic({ topic, partitions: 6 })
  const plain = new Kafka({ brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING }).producer({
    allowAutoTopicCreation: false,
  })
  const client = new ClientKafka({
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    sidecar: { mode: 'direct' },
  }).producer({ allowAutoTopicCreation: false })
  await Promise.all([plain.connect(), client.connect()])
  for (const [batch, concurrency, total] of [
    [100, 8, 100_000],
    [1, 64, 20_000],
  ] as const) {
    const results = { plain: [] as number[], client: [] as number[] }
    for (let round = 0; round < rounds; round++) {
      results.plain.push(await recordsPerSecond(plain, 'plain', total, batch, concurrency))
      results.client.push(await recordsPerSecond(client, 'client', total, batch, concurrency))
    }
    const [p, c] = [median(results.plain), median(results.client)]
    console.log(
      `sends of ${batch}, ${concurrency} in flight: plain KafkaJS ${p.toLocaleString('en-US')} records/s, client direct mode ${c.toLocaleString('en-US')} records/s (${(c / p).toFixed(2)}x), medians of ${rounds}`,
    )
  }
  await Promise.all([plain.disconnect(), client.disconnect()])
} finally {
  await cluster.stop()
}

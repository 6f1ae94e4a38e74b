/**
 * Reads a topic of an external cluster back with a KafkaJS consumer, from the beginning up to the
 * high watermarks fetched before reading, so the read ends even if something else keeps writing.
 * The consumer's group is a throwaway one that commits nothing; it is deleted afterwards, and a
 * group that cannot be deleted (no DeleteGroups permission, a broker without the API) is a
 * warning naming it, not a failure.
 */
import type { Admin, Kafka } from 'kafkajs'
import type { LogRecord } from './cluster-under-test.js'

/** A read that stops advancing for this long has failed, rather than hanging the run. */
const STALL_MS = 60_000

export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  visit: (record: LogRecord) => void,
): Promise<void> {
  // Next offset to visit per partition, until its high watermark: each record visited once, even
  // if a rebalance made the consumer fetch a range again.
  const next = new Map<number, bigint>()
  const ends = new Map<number, bigint>()
  for (const p of await admin.fetchTopicOffsets(topic)) {
    if (BigInt(p.high) > BigInt(p.low)) {
      next.set(p.partition, BigInt(p.low))
      ends.set(p.partition, BigInt(p.high))
    }
  }
  if (ends.size === 0) return
  const groupId = `${topic}-reader`
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      let stall = setTimeout(() => reject(stalled(topic, next, ends)), STALL_MS)
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error))
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition)
            if (end === undefined) return
            for (const message of batch.messages) {
              const offset = BigInt(message.offset)
              if (offset < next.get(batch.partition)! || offset >= end) continue
              visit({ partition: batch.partition, key: message.key, value: message.value })
              next.set(batch.partition, offset + 1n)
            }
            clearTimeout(stall)
            stall = setTimeout(() => reject(stalled(topic, next, ends)), STALL_MS)
            if (BigInt(batch.lastOffset()) + 1n >= end) ends.delete(batch.partition)
            if (ends.size === 0) {
              clearTimeout(stall)
              resolve()
            }
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  await deleteGroup(admin, groupId)
}

function stalled(topic: string, next: Map<number, bigint>, ends: Map<number, bigint>): Error {
  const behind = [...ends].map(([partition, end]) => `${partition} at ${next.get(partition)} of ${end}`).join(', ')
  return new Error(`reading ${topic} back made no progress for ${STALL_MS / 1000} s (partitions ${behind})`)
}

async function deleteGroup(admin: Admin, groupId: string): Promise<void> {
  try {
    await admin.deleteGroups([groupId])
  } catch (error) {
    const groups = (error as { groups?: Array<{ error?: { type?: string } }> }).groups
    if (groups?.every((g) => g.error?.type === 'GROUP_ID_NOT_FOUND')) return // already gone
    console.warn(
      `warning: could not delete the consumer group ${groupId} that read the log back (${(error as Error).message}); delete it by hand`,
    )
  }
}

/**
 * Delivery reports of a send the direct path wrote. KafkaJS answers per partition (a base
 * offset); DirectPath tells the partition it chose for each record, and KafkaJS keeps send order
 * within a partition, so a record's offset is its partition's base offset plus its rank.
 */
import type { RecordMetadata } from 'kafkajs'
import type { OutgoingMessage } from '../producer/messages.js'
import { absentPartitionError, type AbsentPartition } from './absent-partitions.js'
import type { DeliveryReport } from './delivery-report.js'

/** One report per record of a successful send, in send order; records KafkaJS left out (`absent`) carry why. */
export function directReports(
  outgoing: readonly OutgoingMessage[],
  metadata: readonly RecordMetadata[],
  partitions: ReadonlyArray<number | null>,
  absent: readonly AbsentPartition[] = [],
): DeliveryReport[] {
  const left = new Set(absent.map(({ topic, partition }) => `${topic}\u0000${partition}`))
  const byPartition = new Map<string, { base: number | null; next: number }>()
  for (const m of metadata) {
    const base = m.baseOffset ?? m.offset
    byPartition.set(`${m.topicName}\u0000${m.partition}`, { base: base === undefined ? null : Number(base), next: 0 })
  }
  return outgoing.map(({ topic, message }, index) => {
    const partition = partitions[index] ?? null
    const slot = partition === null ? undefined : byPartition.get(`${topic}\u0000${partition}`)
    const offset = slot && slot.base !== null && slot.base >= 0 ? String(slot.base + slot.next++) : null
    const error =
      partition !== null && left.has(`${topic}\u0000${partition}`) ? absentPartitionError(topic, partition) : null
    return {
      topic,
      partition,
      offset,
      key: message.key ?? null,
      headers: message.headers,
      error,
      path: 'direct' as const,
    }
  })
}

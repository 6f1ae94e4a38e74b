/**
 * The sidecar's results for a send as the RecordMetadata[] KafkaJS's producer resolves with:
 * one entry per topic-partition, in KafkaJS's order.
 */
import type { RecordMetadata } from 'kafkajs'
import type { OutgoingMessage } from '../producer/messages.js'
import type { PartResult } from '../transport/emit-part.js'

/**
 * KafkaJS lists results broker by broker: brokers in the order first met walking the topics in
 * send order (each topic's leaders ascending), then per broker the topics in send order and their
 * partitions ascending. The same order here, from the leaders the sidecar saw.
 */
export function toRecordMetadata(
  results: readonly PartResult[],
  outgoing: readonly OutgoingMessage[],
): RecordMetadata[] {
  const first = new Map<string, PartResult>()
  for (const r of results)
    if (!first.has(`${r.topic}\u0000${r.partition}`)) first.set(`${r.topic}\u0000${r.partition}`, r)
  const topicOrder = [...new Set(outgoing.map((o) => o.topic))]
  const brokers: number[] = []
  for (const topic of topicOrder) {
    const leaders = [...new Set([...first.values()].filter((r) => r.topic === topic).map((r) => r.leaderId))].sort(
      (a, b) => a - b,
    )
    for (const leader of leaders) if (!brokers.includes(leader)) brokers.push(leader)
  }
  const metadata: RecordMetadata[] = []
  for (const broker of brokers) {
    for (const topic of topicOrder) {
      const onBroker = [...first.values()]
        .filter((r) => r.topic === topic && r.leaderId === broker)
        .sort((a, b) => a.partition - b.partition)
      for (const r of onBroker) {
        metadata.push({
          topicName: r.topic,
          partition: r.partition,
          errorCode: 0,
          baseOffset: String(r.baseOffset),
          logAppendTime: String(r.logAppendTimeMs),
          logStartOffset: String(r.logStartOffset),
        })
      }
    }
  }
  return metadata
}

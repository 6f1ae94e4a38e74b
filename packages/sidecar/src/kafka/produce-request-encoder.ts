/**
 * The body of a Produce request, versions 3 to 7 (one layout), as one buffer: every partition's
 * RecordBatch measured (and compressed) first, then the whole request written in one pass.
 *
 * Produce v3+ => transactional_id acks timeout [topic [partition record_set]]; the plain producer
 * is not transactional, so transactional_id is null.
 */
import type { Message } from 'kafkajs'
import { planRecordBatch, type RecordBatchPlan } from './record-batch-encoder.js'

export interface ProducePartitionData {
  readonly partition: number
  readonly messages: readonly Message[]
}

export interface ProduceTopicData {
  readonly topic: string
  readonly partitions: readonly ProducePartitionData[]
}

export interface ProduceRequestData {
  readonly acks: number
  readonly timeout: number
  readonly compression: number
  readonly topicData: readonly ProduceTopicData[]
}

/** The first and the last Produce versions with this layout (RecordBatch v2 record sets). */
export const PRODUCE_VERSIONS = { min: 3, max: 7 } as const

export async function encodeProduceRequest({
  acks,
  timeout,
  compression,
  topicData,
}: ProduceRequestData): Promise<Buffer> {
  // Planned partition by partition, in order, as KafkaJS encodes them (each takes its own Date.now()).
  const plans: RecordBatchPlan[][] = []
  let size = 2 + 2 + 4 + 4
  for (const { topic, partitions } of topicData) {
    const topicPlans: RecordBatchPlan[] = []
    size += 2 + Buffer.byteLength(topic) + 4
    for (const { messages } of partitions) {
      const plan = await planRecordBatch(messages, compression)
      topicPlans.push(plan)
      size += 4 + 4 + plan.size
    }
    plans.push(topicPlans)
  }
  const buffer = Buffer.allocUnsafe(size)
  let offset = buffer.writeInt16BE(-1, 0) // transactional_id: null
  offset = buffer.writeInt16BE(acks, offset)
  offset = buffer.writeInt32BE(timeout, offset)
  offset = buffer.writeInt32BE(topicData.length, offset)
  topicData.forEach(({ topic, partitions }, t) => {
    const topicLength = Buffer.byteLength(topic)
    offset = buffer.writeInt16BE(topicLength, offset)
    offset += buffer.write(topic, offset, topicLength, 'utf8')
    offset = buffer.writeInt32BE(partitions.length, offset)
    partitions.forEach(({ partition }, p) => {
      const plan = plans[t]![p]!
      offset = buffer.writeInt32BE(partition, offset)
      offset = buffer.writeInt32BE(plan.size, offset)
      offset = plan.writeTo(buffer, offset)
    })
  })
  if (offset !== size) throw new Error(`produce request encoded ${offset} bytes, measured ${size}`)
  return buffer
}

/**
 * The `batch` eachBatch receives, as KafkaJS's Batch: topic, partition, highWatermark (a string),
 * the messages, and its offset arithmetic. The sidecar has already filtered out control records and
 * aborted transactions, and says where the fetch ended (`last_offset`), which may lie past the last
 * message: KafkaJS's lastOffset() gives the same, and resolving the last message resolves up to it.
 */
import type { Batch as WireBatch } from '@kafka-sidecar/proto'
import type { Batch, KafkaMessage } from 'kafkajs'
import { toKafkaMessage } from './kafka-message.js'

export class SidecarBatch implements Batch {
  readonly topic: string
  readonly partition: number
  readonly highWatermark: string
  readonly messages: KafkaMessage[]
  // Private fields, so the object shows KafkaJS's public fields only (a logged batch, a spread).
  readonly #lastOffset: string

  constructor(wire: WireBatch) {
    this.topic = wire.topic
    this.partition = wire.partition
    this.highWatermark = String(wire.highWatermark)
    this.messages = wire.records.map(toKafkaMessage)
    this.#lastOffset = String(wire.lastOffset)
  }

  isEmpty(): boolean {
    return this.messages.length === 0
  }

  firstOffset(): string | null {
    return this.isEmpty() ? null : this.messages[0]!.offset
  }

  lastOffset(): string {
    return this.#lastOffset
  }

  /** The lag behind the partition's end from the last offset of the batch (KafkaJS's "high"). */
  offsetLag(): string {
    return String(BigInt(this.highWatermark) - 1n - BigInt(this.lastOffset()))
  }

  /** The lag behind the partition's end from the first offset of the batch. */
  offsetLagLow(): string {
    const first = this.firstOffset()
    return first === null ? '0' : String(BigInt(this.highWatermark) - 1n - BigInt(first))
  }
}

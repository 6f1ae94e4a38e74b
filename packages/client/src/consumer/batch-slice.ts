/**
 * Part of a batch, as KafkaJS's Batch: the messages from `from` to `to`, with the batch's topic,
 * partition and highWatermark. A slice that runs to the batch's end ends where the batch does
 * (its lastOffset, which may lie past the last message, over control records), so resolving its
 * last message moves as far as resolving the batch's would.
 */
import type { Batch, KafkaMessage } from 'kafkajs'

export class BatchSlice implements Batch {
  readonly topic: string
  readonly partition: number
  readonly highWatermark: string
  readonly messages: KafkaMessage[]
  // Private, so the object shows KafkaJS's public fields only (a logged batch, a spread).
  readonly #lastOffset: string

  constructor(batch: Batch, from: number, to: number) {
    this.topic = batch.topic
    this.partition = batch.partition
    this.highWatermark = batch.highWatermark
    this.messages = batch.messages.slice(from, to)
    this.#lastOffset =
      to >= batch.messages.length ? batch.lastOffset() : this.messages[this.messages.length - 1]!.offset
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

  offsetLag(): string {
    return String(BigInt(this.highWatermark) - 1n - BigInt(this.lastOffset()))
  }

  offsetLagLow(): string {
    const first = this.firstOffset()
    return first === null ? '0' : String(BigInt(this.highWatermark) - 1n - BigInt(first))
  }
}

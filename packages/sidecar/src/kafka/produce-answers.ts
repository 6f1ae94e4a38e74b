/**
 * What the brokers answered for each partition of a produce request, for sendBatch calls that
 * fail.
 *
 * KafkaJS 2.2.4 throws on a produce response in which any partition failed (with the first failed
 * partition's code), so a sendBatch that carried several partitions fails as a whole although
 * the broker wrote the others. In the sidecar those partitions hold other applications' records:
 * failing them would reject sends that were written (a duplicate when their callers retry) for
 * one application's bad record. So every sendBatch is given a ProduceAnswers, and its sender
 * notes each decoded response in it, partition by partition: the sidecar's own sender
 * (direct-batch-sender.ts) directly, KafkaJS's producer through its wrapped parsers
 * (kafkajs-answers.ts).
 */

/** A partition's answer as KafkaJS decodes it (offsets as strings). */
export interface PartitionAnswer {
  readonly errorCode: number
  readonly baseOffset: string
  readonly logAppendTime?: string
  readonly logStartOffset?: string
}

/** A Produce response as KafkaJS's decoders give it (below v3 the offset is `offset`). */
export interface DecodedProduceResponse {
  readonly topics: ReadonlyArray<{
    readonly topicName: string
    readonly partitions: ReadonlyArray<PartitionAnswer & { readonly partition: number }>
  }>
}

/** The latest answer per partition of the produce requests made for one sendBatch (retries included). */
export class ProduceAnswers {
  private readonly byPartition = new Map<string, PartitionAnswer>()

  note(response: DecodedProduceResponse): void {
    for (const { topicName, partitions } of response.topics) {
      for (const answer of partitions) this.byPartition.set(`${topicName}\u0000${answer.partition}`, answer)
    }
  }

  /**
   * A partition sent again: what the broker said before is no longer its answer. Should the new
   * attempt end without one (its connection lost, its request timed out), the send's own failure
   * is the partition's, as KafkaJS would report it, not the refusal that caused the retry.
   */
  forget(topic: string, partition: number): void {
    this.byPartition.delete(`${topic}\u0000${partition}`)
  }

  of(topic: string, partition: number): PartitionAnswer | undefined {
    return this.byPartition.get(`${topic}\u0000${partition}`)
  }
}

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

/** A partition's latest answer, and the attempt that last sent it. */
interface Entry {
  answer: PartitionAnswer | undefined
  sentIn: number
}

/**
 * The answer per partition of the produce requests made for one sendBatch, retries included. An
 * attempt can be given up while some of its requests are still in flight (another broker's
 * failed first), so answers arrive out of attempt order. Two rules keep them straight:
 * - written stays written: a later refusal (the partition sent again before the first answer
 *   came) does not turn records in the log into a failure, which its callers would send again;
 * - a refusal to an older send than the partition's latest is ignored, so a retry that ends
 *   without an answer fails with its own error, not with the refusal that caused it.
 */
export class ProduceAnswers {
  private readonly byPartition = new Map<string, Entry>()

  /** A response to requests of `attempt` (0 when the sender does not number its attempts). */
  note(response: DecodedProduceResponse, attempt = 0): void {
    for (const { topicName, partitions } of response.topics) {
      for (const answer of partitions) {
        const entry = this.entry(topicName, answer.partition)
        if (entry.answer?.errorCode === 0) continue
        // A late "written" counts whatever its attempt: the records are in the log.
        if (answer.errorCode !== 0 && attempt < entry.sentIn) continue
        entry.answer = answer
      }
    }
  }

  /** The partition is sent again in `attempt`: what the brokers said before is no longer its answer. */
  resend(topic: string, partition: number, attempt: number): void {
    const entry = this.entry(topic, partition)
    if (entry.answer?.errorCode === 0) return
    entry.answer = undefined
    entry.sentIn = attempt
  }

  of(topic: string, partition: number): PartitionAnswer | undefined {
    return this.byPartition.get(key(topic, partition))?.answer
  }

  private entry(topic: string, partition: number): Entry {
    let entry = this.byPartition.get(key(topic, partition))
    if (!entry) this.byPartition.set(key(topic, partition), (entry = { answer: undefined, sentIn: 0 }))
    return entry
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

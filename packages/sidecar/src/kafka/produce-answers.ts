/**
 * What the brokers answered for each partition of a produce request, for sendBatch calls that
 * fail.
 *
 * KafkaJS 2.2.4 throws on a produce response in which any partition failed (with the first failed
 * partition's code), so a sendBatch that carried several partitions fails as a whole although
 * the broker wrote the others. In the sidecar those partitions hold other applications' records:
 * failing them would reject sends that were written (a duplicate when their callers retry) for
 * one application's bad record. So KafkaJS's produce response parsers are wrapped, once: inside
 * `withProduceAnswers`, each decoded response is noted, partition by partition, before KafkaJS
 * parses it (and throws, as before: its retries are unchanged). The notes travel in an
 * AsyncLocalStorage, since KafkaJS parses a response in the continuation of the send that the
 * dispatcher started. The sidecar's own sender (direct-batch-sender.ts) parses its responses
 * itself and notes them here.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

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

  of(topic: string, partition: number): PartitionAnswer | undefined {
    return this.byPartition.get(`${topic}\u0000${partition}`)
  }
}

const current = new AsyncLocalStorage<ProduceAnswers>()
let parsersWrapped = false

/** Every produce response version KafkaJS 2.2.4 has; each module's exports are its own object. */
const RESPONSE_MODULES = [0, 1, 2, 3, 4, 5, 6, 7].map((v) => `kafkajs/src/protocol/requests/produce/v${v}/response.js`)

function wrapParsers(): void {
  if (parsersWrapped) return
  parsersWrapped = true
  for (const path of RESPONSE_MODULES) {
    const module = require(path) as { parse: (data: DecodedProduceResponse) => Promise<unknown> }
    const parse = module.parse
    module.parse = (data) => {
      current.getStore()?.note(data)
      return parse(data)
    }
  }
}

/**
 * Notes a decoded response for the sendBatch running, for senders that parse responses themselves
 * (direct-batch-sender.ts), so KafkaJS's wrapped parser never sees them.
 */
export function noteProduceAnswers(response: DecodedProduceResponse): void {
  current.getStore()?.note(response)
}

/** Runs `send` with its produce responses noted in `answers`. */
export function withProduceAnswers<T>(answers: ProduceAnswers, send: () => Promise<T>): Promise<T> {
  wrapParsers()
  return current.run(answers, send)
}

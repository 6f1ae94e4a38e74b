/**
 * KafkaJS's producer as a BatchSender that notes its answers (produce-answers.ts).
 *
 * KafkaJS's producer parses its produce responses itself, and throws on the first refused
 * partition. Its response parsers are wrapped, once: a decoded response is noted, partition by
 * partition, before KafkaJS parses it (and throws, as before: its retries are unchanged). The
 * notes travel in an AsyncLocalStorage, since KafkaJS parses a response in the continuation of
 * the send. Only the plain producer with `KAFKA_SIDECAR_PRODUCE_ENCODER=kafkajs` needs this (the
 * default encoder hands its answers over directly, and idempotent batches carry one partition, so
 * their failure is that partition's): while no sendBatch ran through here, the storage is never
 * entered and the process pays no promise hooks for it.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import type { Producer } from 'kafkajs'
import type { BatchSender } from '../pipeline/dispatcher.js'
import type { DecodedProduceResponse, ProduceAnswers } from './produce-answers.js'

const require = createRequire(import.meta.url)

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

/** `producer`'s sendBatch, with every produce response it parses noted in the answers it is given. */
export function answeringProducer(producer: Pick<Producer, 'sendBatch'>): BatchSender {
  return {
    sendBatch: (batch, answers) => {
      wrapParsers()
      return answers ? current.run(answers, () => producer.sendBatch(batch)) : producer.sendBatch(batch)
    },
  }
}

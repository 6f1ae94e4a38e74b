/**
 * One application's record that the broker refuses must not fail another application's records
 * that left in the same produce request. The sidecar batches ready partitions of one leader
 * broker into one KafkaJS sendBatch, and KafkaJS 2.2.4 throws for the whole request when any
 * partition of it fails; the sidecar settles each partition from its own answer instead. With
 * idempotent producers the stake is higher: KafkaJS takes back the sequence numbers of every
 * partition of a failed request, so the next batch of a written partition would be acked as a
 * duplicate and never written. Real sidecar, real KafkaJS, a broker whose message.max.bytes is
 * 100 KB.
 */
import { describe, expect, it, onTestFinished } from 'vitest'
import { startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { Kafka, logLevel } from '../src/index.js'

describe('a broker refusing one partition of a shared produce request', () => {
  for (const idempotent of [false, true]) {
    it(
      `${idempotent ? 'idempotent' : 'plain'} producers: only the refused record's send fails; the other application's records are written once and acked`,
      { timeout: 30_000 },
      async () => {
        const cluster = await startCluster({ brokers: 1, maxMessageBytes: 100_000 })
        for (const topic of ['x-large', 'y-small']) await cluster.createTopic({ topic, partitions: 1 })
        const sidecar = await startTestSidecar(cluster)
        const producerOf = async (clientId: string) => {
          const kafka = new Kafka({
            clientId,
            brokers: cluster.bootstrapServers,
            logLevel: logLevel.NOTHING,
            sidecar: { mode: 'sidecar', address: sidecar.address, connectTimeoutMs: 3_000 },
          })
          const producer = kafka.producer({ idempotent })
          await producer.connect()
          onTestFinished(() => producer.disconnect())
          return producer
        }
        const [appA, appB, appC] = [await producerOf('app-a'), await producerOf('app-b'), await producerOf('app-c')]
        await appC.sendBatch({
          topicMessages: [
            { topic: 'x-large', messages: [{ value: 'c0' }] },
            { topic: 'y-small', messages: [{ value: 'c0' }] },
          ],
        })
        // Holds app C's next batch in flight, so the next records of both partitions queue up and
        // leave together in one request when it settles.
        cluster.loseProduceResponses({ topic: 'y-small', how: 'delay', delayMs: 1_500 })
        const held = appC.sendBatch({
          topicMessages: [
            { topic: 'x-large', messages: [{ value: 'c1' }] },
            { topic: 'y-small', messages: [{ value: 'c1' }] },
          ],
        })
        await new Promise((resolve) => setTimeout(resolve, 300))
        const outcome = (send: Promise<unknown>) =>
          send.then(
            () => 'ok',
            (error: Error) => `${error.name}: ${error.message}`,
          )
        const [large, small] = await Promise.all([
          outcome(appA.send({ topic: 'x-large', messages: [{ value: Buffer.alloc(150_000) }] })),
          outcome(appB.send({ topic: 'y-small', messages: [{ value: 'b1' }] })),
        ])
        await held
        expect(large).toMatch(/KafkaJSProtocolError: The request included a message larger than the max message size/)
        expect(small).toBe('ok')
        expect(await outcome(appB.send({ topic: 'y-small', messages: [{ value: 'b2' }] }))).toBe('ok')
        expect((await cluster.records('y-small')).map((r) => r.value!.toString())).toEqual(['c0', 'c1', 'b1', 'b2'])
      },
    )
  }
})

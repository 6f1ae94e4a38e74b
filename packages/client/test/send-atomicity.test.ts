/**
 * A send is all-or-nothing per partition, as in KafkaJS: KafkaJS writes one send's records for a
 * partition as one record batch, which the broker takes or refuses whole. Through the sidecar the
 * same send must not be cut into batches that the broker judges one by one. Issue 12, finding 6a.
 */
import { describe, expect, it } from 'vitest'
import { produceLog, randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { connectedProducer, sidecarBesidePlainKafkaJS } from './helpers.js'
import { outcome, outcomeFacts } from './kafkajs-reference.js'

describe('one send, one partition, one batch', () => {
  it('a send too large for the broker as one batch fails whole as in KafkaJS, though 1,000 of its records would fit', async () => {
    // 2,500 records of ~110 bytes: about 280 KB as one batch, over message.max.bytes.
    const { cluster, ours, theirs, client, plain } = await sidecarBesidePlainKafkaJS({ maxMessageBytes: 150_000 })
    const messages = Array.from({ length: 2_500 }, (_, i) => ({ value: `${i}-${'x'.repeat(100)}`, partition: 0 }))
    const want = await outcome(() => plain.send({ topic: theirs, messages }))
    const got = await outcome(() => client.send({ topic: ours, messages }))
    expect(outcomeFacts(want)).toMatchObject({ ok: false, error: { type: 'MESSAGE_TOO_LARGE' } })
    expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    expect(await cluster.records(theirs)).toEqual([])
    expect(await cluster.records(ours)).toEqual([])
  })

  it('a send of 2,500 records to one partition is written as one batch, as KafkaJS writes it', async () => {
    const log = produceLog()
    const { ours, theirs, client, plain } = await sidecarBesidePlainKafkaJS({ logger: log.logger })
    const messages = Array.from({ length: 2_500 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }))
    await plain.send({ topic: theirs, messages })
    await client.send({ topic: ours, messages })
    expect(log.batches(ours).map((b) => b.records)).toEqual(log.batches(theirs).map((b) => b.records))
    expect(log.batches(ours).map((b) => b.records)).toEqual([2_500])
  })

  it('concurrent sends merged into one stream message stay whole each, and only the one too large for the broker fails', async () => {
    const log = produceLog()
    // message.max.bytes 500 KB, and the sidecar's shared batches kept under it, as its docs ask.
    const cluster = await startCluster({ brokers: 1, maxMessageBytes: 500_000, logger: log.logger })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { maxBatchBytes: 400_000 })
    const client = await connectedProducer({ cluster, mode: 'sidecar', address: sidecar.address })
    // Twelve sends of 100 records (about 100 KB each): the client merges them into messages of
    // about 1 MB; one send of 600 records (about 600 KB) is too large for the broker on its own.
    const send = (name: string, count: number) =>
      client.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({
          value: `${name}-${i}-${'x'.repeat(1_000)}`,
          partition: 0,
        })),
      })
    const sends = Array.from({ length: 12 }, (_, i) => send(`s${i}`, 100))
    const big = send('big', 600)
    const small = await Promise.allSettled(sends)
    expect(small.map((r) => r.status)).toEqual(Array(12).fill('fulfilled'))
    expect(await big.catch((e: unknown) => e)).toMatchObject({ type: 'MESSAGE_TOO_LARGE' })
    const written = log.batches(topic).filter((b) => b.bytes <= 500_000)
    expect(written.every((b) => b.records % 100 === 0)).toBe(true)
    expect((await cluster.records(topic)).length).toBe(1_200)
    expect(client.breakerState).toBe('closed')
  })
})

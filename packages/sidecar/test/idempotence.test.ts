/**
 * EmitRequest.idempotent, with raw gRPC requests: the sidecar writes such requests through an
 * idempotent KafkaJS producer, so when a broker appends a batch and its answer is lost (an
 * injected fault), KafkaJS's retry is recognised by the broker and the records are in Kafka once.
 * Without idempotence the same retry writes them twice (what proves the fault bites). The
 * idempotent producer is made on first need on the sidecar's own connections; it is refused
 * loudly when the brokers refuse it a producer id, and stopped with the sidecar.
 */
import { status } from '@grpc/grpc-js'
import { Acks } from '@kafka-sidecar/proto'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'
import { TestStream } from './stream-helpers.js'

const T = { timeout: 30_000 }
const N = 20

const gauge = async (sidecar: Awaited<ReturnType<typeof startTestSidecar>>, name: string) =>
  (await sidecar.metrics.registry.getSingleMetric(name)!.get()).values[0]?.value

/** How many times each value is stored in the topic. */
async function copies(cluster: Awaited<ReturnType<typeof startCluster>>, topic: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const r of await cluster.records(topic))
    counts.set(r.value!.toString(), (counts.get(r.value!.toString()) ?? 0) + 1)
  return counts
}

describe('EmitRequest.idempotent', () => {
  for (const idempotent of [true, false]) {
    it(
      `a lost Produce answer on the first write to a partition: ${idempotent ? 'each record is in Kafka once' : 'the retry writes a duplicate (idempotent false)'}`,
      T,
      async () => {
        const cluster = await startCluster()
        const topic = randomTopic('lost-answer')
        await cluster.createTopic({ topic, partitions: 2 })
        const sidecar = await startTestSidecar(cluster)
        const client = sidecarClient(sidecar)
        const fault = cluster.loseProduceResponses({ topic, partition: 0 })
        const values = Array.from({ length: N }, (_, i) => `r${i}`)
        const acks = await Promise.all(
          values.map((value, i) =>
            emit(client, emitRequest(topic, [{ value: bytes(value), partition: i % 2 }], { idempotent })),
          ),
        )
        expect(fault.fired).toBe(1)
        expect(acks.every((a) => a.received && a.results.every((r) => r.error === undefined))).toBe(true)
        const stored = await copies(cluster, topic)
        if (idempotent) {
          expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([])
          expect([...stored.keys()].sort()).toEqual([...values].sort())
          // Each ack names the offset its record is at.
          const records = await cluster.records(topic)
          for (const [i, ack] of acks.entries())
            expect(
              records
                .find((r) => r.partition === ack.results[0]!.partition && r.offset === ack.results[0]!.baseOffset)
                ?.value?.toString(),
            ).toBe(values[i])
        } else {
          expect([...stored.values()].some((n) => n > 1)).toBe(true)
        }
      },
    )
  }

  it(
    'sends one idempotent batch of a partition at a time even when more may be in flight, so KafkaJS never renumbers a queued batch',
    T,
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('in-flight')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await startTestSidecar(cluster, { maxInFlightPerPartition: 4, maxBatchRecords: 2 })
      const stream = new TestStream(sidecarClient(sidecar))
      cluster.loseProduceResponses({ topic, count: 2 })
      const values = Array.from({ length: N }, (_, i) => `f${i}`)
      const acks = await Promise.all(
        values.map((value) => stream.send(emitRequest(topic, [{ value: bytes(value) }], { idempotent: true }))),
      )
      expect(acks.every((a) => a.received && a.results[0]!.error === undefined)).toBe(true)
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(values)
    },
  )

  it("keeps one instance's per-partition order across idempotent and plain requests on a stream", T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('mixed-order')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const stream = new TestStream(sidecarClient(sidecar))
    cluster.loseProduceResponses({ topic, count: 2 })
    const instanceId = 'mixed-order-instance'
    const values = Array.from({ length: 40 }, (_, i) => `m${i}`)
    // Runs of each kind, so batches of both producers alternate on the partition.
    const acks = await Promise.all(
      values.map((value, i) =>
        stream.send(
          emitRequest(topic, [{ value: bytes(value) }], { instanceId, idempotent: Math.floor(i / 5) % 2 === 0 }),
        ),
      ),
    )
    expect(acks.every((a) => a.received)).toBe(true)
    const firsts: string[] = []
    for (const r of await cluster.records(topic))
      if (!firsts.includes(r.value!.toString())) firsts.push(r.value!.toString())
    expect(firsts).toEqual(values)
  })

  it('makes the idempotent producer on first need, on the connections the sidecar already holds', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('first-need')
    await cluster.createTopic({ topic, partitions: 3 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    await emit(
      client,
      emitRequest(
        topic,
        [0, 1, 2].map((p) => ({ value: bytes(`plain-${p}`), partition: p })),
      ),
    )
    expect(await gauge(sidecar, 'kafka_sidecar_idempotent_producer_ready')).toBe(0)
    const before = cluster.connectionStats().reduce((n, s) => n + s.current, 0)
    await emit(
      client,
      emitRequest(
        topic,
        [0, 1, 2].map((p) => ({ value: bytes(`idempotent-${p}`), partition: p })),
        { idempotent: true },
      ),
    )
    expect(await gauge(sidecar, 'kafka_sidecar_idempotent_producer_ready')).toBe(1)
    expect(cluster.connectionStats().reduce((n, s) => n + s.current, 0)).toBe(before)
    await sidecar.stop()
    await waitFor('every broker connection to close', () => cluster.connectionStats().every((s) => s.current === 0))
  })

  it(
    'stop() flushes what the idempotent producer holds (a lost answer retried meanwhile), then disconnects it',
    T,
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('flush')
      await cluster.createTopic({ topic, partitions: 2 })
      const sidecar = await startTestSidecar(cluster)
      const client = sidecarClient(sidecar)
      await emit(client, emitRequest(topic, [{ value: bytes('first'), partition: 0 }], { idempotent: true }))
      cluster.loseProduceResponses({ topic })
      const values = Array.from({ length: N }, (_, i) => `q${i}`)
      // Acked once queued: what stop() finds is still to be written.
      const acks = await Promise.all(
        values.map((value, i) =>
          emit(
            client,
            emitRequest(topic, [{ value: bytes(value), partition: i % 2 }], { idempotent: true, awaitDelivery: false }),
          ),
        ),
      )
      expect(acks.every((a) => a.received)).toBe(true)
      expect(await sidecar.stop()).toEqual({ failedRecords: 0, flushedInTime: true })
      const stored = await copies(cluster, topic)
      expect([...stored.keys()].sort()).toEqual(['first', ...values].sort())
      expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([])
      await waitFor('every broker connection to close', () => cluster.connectionStats().every((s) => s.current === 0))
    },
  )

  it('refuses an idempotent request with acks other than ALL, as KafkaJS does', T, async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const error = await emitError(
      sidecarClient(sidecar),
      emitRequest(randomTopic(), [{ value: bytes('x') }], { idempotent: true, acks: Acks.ACKS_LEADER }),
    )
    expect(error.code).toBe(status.INVALID_ARGUMENT)
    expect(error.details).toMatch(/idempotent request must use acks -1/)
  })

  it(
    'refuses idempotent requests loudly, writing nothing, while the brokers refuse it a producer id; plain ones still go',
    T,
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('no-producer-id')
      await cluster.createTopic({ topic, partitions: 1 })
      const sidecar = await startTestSidecar(cluster)
      const client = sidecarClient(sidecar)
      const refusals = cluster.refuseProducerIds()
      const error = await emitError(client, emitRequest(topic, [{ value: bytes('idempotent') }], { idempotent: true }))
      expect(error.code).toBe(status.FAILED_PRECONDITION)
      expect(error.details).toMatch(
        /idempotent write refused, nothing was written: .*producer id \(CLUSTER_AUTHORIZATION_FAILED/,
      )
      expect(error.metadata.get('retriable')).toEqual(['false'])
      // A stream's refusal is the same, in the ack.
      const ack = await new TestStream(client).send(
        emitRequest(topic, [{ value: bytes('idempotent') }], { idempotent: true }),
      )
      expect(ack).toMatchObject({ received: false, error: { grpcCode: status.FAILED_PRECONDITION } })
      expect(ack.error!.message).toMatch(/idempotent write refused/)
      expect(await gauge(sidecar, 'kafka_sidecar_idempotent_producer_ready')).toBe(0)
      await emit(client, emitRequest(topic, [{ value: bytes('plain') }]))
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['plain'])

      // Once the brokers grant it, the next idempotent request (after a short pause) goes through.
      refusals.clear()
      await waitFor(
        'an idempotent request to be written',
        async () =>
          await emit(client, emitRequest(topic, [{ value: bytes('granted') }], { idempotent: true })).then(
            () => true,
            () => false,
          ),
      )
      expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['plain', 'granted'])
    },
  )

  it('with KAFKA_SIDECAR_IDEMPOTENT its one producer writes every request idempotently', T, async () => {
    const cluster = await startCluster()
    const topic = randomTopic('always')
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster, { idempotent: true })
    expect(await gauge(sidecar, 'kafka_sidecar_idempotent_producer_ready')).toBe(1)
    const client = sidecarClient(sidecar)
    cluster.loseProduceResponses({ topic })
    await Promise.all(
      ['a', 'b', 'c'].map((value, i) =>
        emit(client, emitRequest(topic, [{ value: bytes(value) }], { idempotent: i === 0 })),
      ),
    )
    expect([...(await copies(cluster, topic)).values()]).toEqual([1, 1, 1])
  })
})

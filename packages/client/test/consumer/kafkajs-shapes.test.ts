/**
 * The shapes a handler and a listener see, checked against a real KafkaJS 2.2.4 consumer on an
 * embedded cluster rather than against memory: the same records, read by KafkaJS, are turned into
 * what the sidecar sends (ConsumedRecord, as its own KafkaJS consumer reads them) and handed to the
 * sidecar consumer; messages, the batch, the eachBatch payload, the events and describeGroup() must
 * come out as KafkaJS's, except what docs/consumers.md lists as different.
 */
import { kafkaFor, randomTopic, startCluster, waitFor } from '@kafka-sidecar/test-support'
import type { ConsumedRecord } from '@kafka-sidecar/proto'
import type { Batch, EachBatchPayload, InstrumentationEvent, KafkaMessage } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { groupDescription } from '../../src/consumer/group-description.js'
import { runAssigned, sidecarConsumer } from './in-memory-transport.js'

interface Seen {
  payloadKeys: string[]
  batch: Batch
  methods: unknown[]
  events: Array<InstrumentationEvent<unknown>>
}

const BATCH_EVENTS = [
  'consumer.fetch_start',
  'consumer.fetch',
  'consumer.start_batch_process',
  'consumer.end_batch_process',
  'consumer.commit_offsets',
]

function captured(): { seen: Seen | null; events: Array<InstrumentationEvent<unknown>> } {
  return { seen: null, events: [] }
}

/** A run config that records what eachBatch gets; autoCommitInterval shows KafkaJS still commits after the batch. */
function recording(into: ReturnType<typeof captured>) {
  return {
    autoCommitInterval: 60_000,
    eachBatch: async (payload: EachBatchPayload) => {
      const { batch } = payload
      into.seen = {
        payloadKeys: Object.keys(payload),
        batch,
        methods: [batch.isEmpty(), batch.firstOffset(), batch.lastOffset(), batch.offsetLag(), batch.offsetLagLow()],
        events: into.events,
      }
    },
  }
}

/** What the sidecar sends for a message its KafkaJS consumer read. */
function asConsumedRecord(message: KafkaMessage): ConsumedRecord {
  const headers = Object.entries(message.headers ?? {}).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map((v) => ({
      key,
      value: v === null ? undefined : Buffer.from(v as Buffer),
    })),
  )
  const m = message as KafkaMessage & { magicByte: number }
  return {
    offset: Number(m.offset),
    key: m.key ?? undefined,
    value: m.value ?? undefined,
    headers,
    timestampMs: Number(m.timestamp),
    attributes: m.attributes,
    sizeBytes: 0,
    magicByte: m.magicByte,
  }
}

/** KafkaJS's message without the record batch's internals the contract does not carry. */
function withoutBatchContext(message: KafkaMessage): Record<string, unknown> {
  const { batchContext: _ignored, ...rest } = message as KafkaMessage & { batchContext?: unknown }
  return rest
}

describe("shapes, compared with KafkaJS's own consumer", () => {
  it('messages, batch, eachBatch payload, batch events and describeGroup() match KafkaJS 2.2.4', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const producer = kafka.producer()
    await producer.connect()
    onTestFinished(() => producer.disconnect())
    await producer.send({
      topic,
      messages: [
        { key: 'k', value: 'v', headers: { one: 'a', twice: ['x', 'y'] } },
        { key: null, value: null },
        { key: '', value: Buffer.alloc(0), headers: { thrice: ['1', '2', '3'] } },
      ],
    })

    const theirs = captured()
    const kafkajsConsumer = kafka.consumer({ groupId: randomTopic('g'), maxWaitTimeInMs: 100 })
    onTestFinished(() => kafkajsConsumer.disconnect())
    for (const name of BATCH_EVENTS) kafkajsConsumer.on(name as never, (e) => void theirs.events.push(e))
    const joins: Array<InstrumentationEvent<Record<string, unknown>>> = []
    kafkajsConsumer.on(kafkajsConsumer.events.GROUP_JOIN, (e) => void joins.push(e as never))
    await kafkajsConsumer.connect()
    await kafkajsConsumer.subscribe({ topic, fromBeginning: true })
    await kafkajsConsumer.run(recording(theirs))
    await waitFor(
      'KafkaJS to commit its batch',
      () => theirs.events.some((e) => e.type === 'consumer.commit_offsets'),
      10_000,
    )
    const theirGroup = await kafkajsConsumer.describeGroup()
    await kafkajsConsumer.disconnect()
    const theirBatch = theirs.seen!.batch

    const ours = captured()
    const { consumer, transport } = sidecarConsumer()
    for (const name of BATCH_EVENTS) consumer.on(name as never, (e) => void ours.events.push(e))
    const ourJoins: Array<InstrumentationEvent<Record<string, unknown>>> = []
    consumer.on(consumer.events.GROUP_JOIN, (e) => void ourJoins.push(e as never))
    const owned = { topic, partition: 0, assignmentId: 1 }
    await consumer.subscribe({ topic, fromBeginning: true })
    await runAssigned(consumer, transport, recording(ours), [owned])
    transport.deliver(owned, theirBatch.messages.map(asConsumedRecord), {
      highWatermark: Number(theirBatch.highWatermark),
      lastOffset: Number(theirBatch.lastOffset()),
    })
    await waitFor('our commit', () => ours.events.some((e) => e.type === 'consumer.commit_offsets'))
    await consumer.disconnect()
    const ourBatch = ours.seen!.batch

    // Messages: equal values, and the same keys in the same order, batchContext aside.
    expect(ourBatch.messages.map((m) => ({ ...m }))).toEqual(theirBatch.messages.map(withoutBatchContext))
    expect(ourBatch.messages.map((m) => Object.keys(m))).toEqual(
      theirBatch.messages.map((m) => Object.keys(withoutBatchContext(m))),
    )
    expect(Buffer.isBuffer(ourBatch.messages[0]!.key)).toBe(true)
    expect((ourBatch.messages[0]!.headers!.twice as Buffer[]).map(String)).toEqual(['x', 'y'])
    // The batch: its public fields and its offset arithmetic.
    expect([ourBatch.topic, ourBatch.partition, ourBatch.highWatermark]).toEqual([
      theirBatch.topic,
      theirBatch.partition,
      theirBatch.highWatermark,
    ])
    expect(ours.seen!.methods).toEqual(theirs.seen!.methods)
    expect(ours.seen!.payloadKeys).toEqual(theirs.seen!.payloadKeys)
    // The events of one batch: the same order (a commit after the batch, interval or not) and payloads.
    expect(ours.events.map((e) => e.type)).toEqual(theirs.events.map((e) => e.type).slice(0, 5))
    for (const type of ['consumer.start_batch_process', 'consumer.end_batch_process']) {
      const [a, b] = [ours, theirs].map((s) => ({
        ...(s.events.find((e) => e.type === type)!.payload as object),
        duration: 0,
      }))
      expect(a, type).toEqual(b)
    }
    const [ourCommit, theirCommit] = [ours, theirs].map(
      (s) => s.events.find((e) => e.type === 'consumer.commit_offsets')!.payload as Record<string, unknown>,
    )
    expect(Object.keys(ourCommit!)).toEqual(Object.keys(theirCommit!))
    expect(ourCommit!.topics).toEqual(theirCommit!.topics)
    // CONSUMER-NO-GENERATION-OR-BATCH-CONTEXT: the generation is not known here, batchContext not sent.
    expect([ourCommit!.groupGenerationId, theirCommit!.groupGenerationId]).toEqual([-1, 1])
    expect(theirBatch.messages.every((m) => 'batchContext' in m)).toBe(true)
    expect(ourBatch.messages.some((m) => 'batchContext' in m)).toBe(false)
    expect(Object.keys(ours.events[0]!)).toEqual(Object.keys(theirs.events[0]!))
    expect(Object.keys(ourJoins[0]!.payload)).toEqual(Object.keys(joins[0]!.payload))
    expect(ourJoins[0]!.payload.memberAssignment).toEqual(joins[0]!.payload.memberAssignment)
    // describeGroup(): KafkaJS's keys, member metadata and assignment as Buffers.
    const described = groupDescription({
      ...theirGroup,
      members: theirGroup.members.map((m) => ({
        ...m,
        memberMetadata: m.memberMetadata,
        memberAssignment: m.memberAssignment,
      })),
      errorCode: 0,
    })
    expect(described).toEqual(theirGroup)
    expect(Object.keys(described)).toEqual(Object.keys(theirGroup))
  })
})

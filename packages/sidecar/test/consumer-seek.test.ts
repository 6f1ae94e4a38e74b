/**
 * Seeks in sidecar mode. A seek racing a fetch KafkaJS already queued skips nothing (the stale
 * batch is dropped, as KafkaJS's own consumers drop it), and a seek acts only on a partition the
 * seeking instance owns (KafkaJS seeks only partitions its member is assigned).
 */
import {
  connectedAdmin,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { Batch, ConsumeEvent, GroupSettings } from '@kafka-sidecar/proto'
import type { Consumer, ConsumerConfig, ConsumerRunConfig, EachBatchPayload, Logger } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { BufferBudget } from '../src/consumer/buffer-budget.js'
import { ConsumerProcess } from '../src/consumer/consumer-process.js'
import { GroupMember } from '../src/consumer/group-member.js'
import { consumerConfig, parseSubscriptions } from '../src/consumer/subscriptions.js'
import { committedOffsets, consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {}, namespace: () => silent, setLogLevel() {} }
const settings: GroupSettings = { maxWaitTimeMs: 100, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 }
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe('Consume: seek', () => {
  it('a seek while a fetch is queued: no record skipped, nothing committed past an unprocessed record', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('seek-race')
    await cluster.createTopic({ topic, partitions: 1 })
    const kafka = kafkaFor(cluster)
    const producer = await connectedProducer(kafka)
    await producer.send({ topic, messages: range(0, 300).map((i) => ({ value: `${i}` })) })
    // The one artifice: a batch KafkaJS fetched is handed to eachBatch only after the process's
    // seek, as KafkaJS's worker queue does when a heartbeat runs between fetched batches.
    let hold: Promise<void> | null = null
    let heldFrom: number | null = null
    const createConsumer = (config: ConsumerConfig): Consumer => {
      const consumer = kafka.consumer(config)
      const run = consumer.run.bind(consumer)
      consumer.run = (cfg?: ConsumerRunConfig) =>
        run({
          ...cfg,
          eachBatch: async (payload: EachBatchPayload) => {
            if (hold && heldFrom === null) {
              heldFrom = Number((payload.batch as typeof payload.batch & { fetchedOffset: string }).fetchedOffset)
              await hold
            }
            return cfg!.eachBatch!(payload)
          },
        })
      return consumer
    }
    const groupId = randomTopic('group')
    const subscriptions = parseSubscriptions([
      { topicOrPattern: { $case: 'topic', value: topic }, fromBeginning: true },
    ])
    let ids = 1
    const member = new GroupMember(groupId, settings, consumerConfig(groupId, settings), subscriptions, {
      createConsumer,
      log: silent,
      ids: { next: () => ids++ },
      bufferBytesPerPartition: 2 * 1024 * 1024,
      budget: new BufferBudget(64 * 1024 * 1024),
      shrinkAfterMs: 10_000,
      meter: { delivered() {}, committed() {}, commitSeconds() {}, localMove() {}, kafkaRebalance() {} },
      session: { joining() {}, joined() {}, crashed() {} },
      onEmpty() {},
      onFailed() {},
    })
    onTestFinished(() => member.stop(0))
    const batches: Batch[] = []
    const stream = {
      send: (e: ConsumeEvent) => void (e.event?.$case === 'batch' && batches.push(e.event.value)),
      end() {},
      left() {},
    }
    const limits = { maxRecordsInFlight: 20, maxBytesInFlight: 1 << 20, maxBatchesPerPartition: 0 }
    const identity = { id: 'p#1', instanceId: 'p', clientId: 'c', appName: 'a' }
    const process = new ConsumerProcess(identity, subscriptions, settings, limits, stream)
    member.start()
    member.add(process)
    const processed = (b: Batch, nextOffset: number) => ({
      topic,
      partition: 0,
      assignmentId: b.assignmentId,
      nextOffset,
    })
    const offsets = (b: Batch) => b.records.map((r) => r.offset)

    await waitFor('batch 0..19', () => batches.length === 1, 20_000)
    member.done(process, { batchId: batches[0]!.batchId, processed: processed(batches[0]!, 20) })
    await waitFor('batch 20..39', () => batches.length === 2, 10_000)
    const inHand = batches[1]!
    expect(offsets(inHand)).toEqual(range(20, 40))
    member.progress(process, processed(inHand, 30))
    let release = () => {}
    hold = new Promise((resolve) => (release = resolve))
    await producer.send({ topic, messages: range(300, 350).map((i) => ({ value: `${i}` })) })
    await waitFor('KafkaJS holds a fetched batch', () => heldFrom !== null, 10_000)
    member.seek(process, { topic, partition: 0, offset: 25, assignmentId: 0 })
    release()
    await new Promise((r) => setTimeout(r, 300))
    member.done(process, { batchId: inHand.batchId, processed: processed(inHand, 30) })

    // From the seek on, every offset comes, in order, none skipped.
    const seen: number[] = []
    for (let i = 2; seen.length < 350 - 25; i++) {
      await waitFor(`batch ${i}`, () => batches.length > i, 10_000)
      const b = batches[i]!
      seen.push(...offsets(b))
      const next = b.lastOffset + 1
      const result = await member.commit(process, { requestId: i, offsets: [processed(b, next)] })
      expect(result.error).toBeUndefined()
      member.done(process, { batchId: b.batchId, processed: processed(b, next) })
    }
    expect(seen).toEqual(range(25, 350))
    const admin = await connectedAdmin(kafka)
    expect((await committedOffsets(admin, groupId, topic)).get(0)).toBe(350)
  })

  it("a seek of a partition another process of the pod owns is ignored: its owner's reading is not rewound", async () => {
    const cluster = await startCluster()
    const topic = randomTopic('seek-owner')
    await cluster.createTopic({ topic, partitions: 2 })
    const producer = await connectedProducer(kafkaFor(cluster))
    const produce = (from: number, to: number) =>
      Promise.all(
        [0, 1].map((partition) =>
          producer.send({ topic, messages: range(from, to).map((i) => ({ partition, value: `${i}` })) }),
        ),
      )
    await produce(0, 10)
    const sidecar = await startTestSidecar(cluster)
    const groupId = randomTopic('group')
    const client = consumerClient(sidecar)
    const a = TestConsumer.join(client, joinRequest(groupId, [topic]))
    await waitFor('a reads all 20', () => a.consumed.length === 20, 20_000)
    const b = TestConsumer.join(client, joinRequest(groupId, [topic], { settings }))
    await waitFor('one partition each', () => a.partitions().length === 1 && b.partitions().length === 1, 10_000)
    const aPartition = a.owned.values().next().value!.partition
    const bPartition = 1 - aPartition
    const readByA = a.consumed.length
    // b seeks a's partition (ignored) and its own (applied: it reads its partition again from 0).
    b.send({ request: { $case: 'seek', value: { topic, partition: aPartition, offset: 0, assignmentId: 0 } } })
    b.send({ request: { $case: 'seek', value: { topic, partition: bPartition, offset: 0, assignmentId: 0 } } })
    await waitFor('b re-reads its partition from 0', () => b.consumed.some((c) => c.offset === 9), 10_000)
    await produce(10, 15)
    await waitFor('b reads the new records', () => b.consumed.some((c) => c.offset === 14), 10_000)
    await waitFor('a reads the 5 new records', () => a.consumed.filter((c) => c.offset >= 10).length === 5, 10_000)
    await new Promise((r) => setTimeout(r, 300))
    const aAfter = a.consumed.slice(readByA)
    expect(aAfter.map((c) => [c.partition, c.offset])).toEqual(range(10, 15).map((o) => [aPartition, o]))
    expect(b.consumed.filter((c) => c.partition === bPartition).map((c) => c.offset)).toEqual(range(0, 15))
  })
})

/**
 * Sends at the edges of what KafkaJS accepts, each once a difference the differential harness
 * found (issue 12, its OPEN- entries): run in both modes and compared with what a plain KafkaJS
 * 2.2.4 producer does on the same cluster with the same input (result, error, records written).
 */
import type { EmbeddedKafkaOptions } from '@kafka-sidecar/embedded-kafka'
import type { Producer, RecordMetadata } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport, SidecarProducer } from '../src/index.js'
import { Kafka, logLevel, SIDECAR_EVENTS } from '../src/index.js'
import { connectedProducer } from './helpers.js'
import {
  captureLogs,
  connectedPlainProducer,
  errorFacts,
  outcome,
  outcomeFacts,
  recordBytes,
  renameTopics,
  type Outcome,
} from './kafkajs-reference.js'

/** An outcome's facts, RecordMetadata topics renamed so two runs on different topics compare. */
function renamed(o: Outcome, names: Record<string, string>): Record<string, unknown> {
  return !o.sync && o.ok ? { ok: true, value: renameTopics(o.value as RecordMetadata[], names) } : outcomeFacts(o)
}

/** An outcome's facts with its error's cause chain (KafkaJS sets `cause` on the errors it wraps). */
function withCause(o: Outcome): Record<string, unknown> {
  const causes: unknown[] = []
  for (let e = !o.sync && o.ok ? undefined : (o.error as Error).cause; e !== undefined; e = (e as Error).cause)
    causes.push(errorFacts(e))
  return { ...outcomeFacts(o), causes }
}

describe.each(['direct', 'sidecar'] as const)('%s mode', (mode) => {
  async function setup(clusterOptions: EmbeddedKafkaOptions = {}) {
    const cluster = await startCluster(clusterOptions)
    const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
    const client = await connectedProducer({ cluster, mode, address: sidecar?.address })
    const fallbacks: unknown[] = []
    client.on(SIDECAR_EVENTS.FALLBACK, (event) => void fallbacks.push(event.payload))
    const plain = await connectedPlainProducer(cluster)
    const topic = async (partitions: number) => {
      const name = randomTopic('edge')
      await cluster.createTopic({ topic: name, partitions })
      return name
    }
    /** Same topics twice: the client's and plain KafkaJS's, named A, B, ... in results. */
    const topicPairs = async (...partitions: number[]) => {
      const ours = await Promise.all(partitions.map(topic))
      const theirs = await Promise.all(partitions.map(topic))
      const names = (list: string[]) => Object.fromEntries(list.map((t, i) => [t, String.fromCharCode(65 + i)]))
      return { ours, theirs, ourNames: names(ours), theirNames: names(theirs) }
    }
    const records = async (t: string) => (await cluster.records(t)).map((r) => recordBytes(r))
    /** Nothing went to the direct path in sidecar mode: the sidecar gave this answer. */
    const onPath = (producer: SidecarProducer) => {
      if (mode === 'sidecar')
        expect({ fallbacks, directConnected: producer.directConnected }).toEqual({
          fallbacks: [],
          directConnected: false,
        })
    }
    return { cluster, address: sidecar?.address, client, plain: plain as Producer, topic, topicPairs, records, onPath }
  }

  it('sendBatch with a topic whose messages array is empty writes the other topics, with KafkaJS result', async () => {
    const s = await setup()
    const { ours, theirs, ourNames, theirNames } = await s.topicPairs(2, 1)
    const batch = ([a, b]: string[]) => ({
      topicMessages: [
        { topic: a!, messages: [] },
        { topic: b!, messages: [{ key: 'b', value: 'written' }] },
      ],
    })
    const want = await outcome(() => s.plain.sendBatch(batch(theirs)))
    const got = await outcome(() => s.client.sendBatch(batch(ours)))
    expect(outcomeFacts(want)).toMatchObject({ ok: true })
    expect(renamed(got, ourNames)).toEqual(renamed(want, theirNames))
    expect(await s.records(ours[1]!)).toEqual(await s.records(theirs[1]!))
    expect(await s.records(ours[0]!)).toEqual([])
    s.onPath(s.client)
  })

  it('a header with an empty name is written as KafkaJS writes it, and later sends land where they do in KafkaJS', async () => {
    const s = await setup()
    const { ours, theirs, ourNames, theirNames } = await s.topicPairs(1)
    const send = (t: string, value: string, headers: Record<string, string>) => ({
      topic: t,
      messages: [{ key: 'k', value, headers }],
    })
    for (const [value, headers] of [
      ['empty name', { '': 'nameless', after: 'x' }],
      ['next', { fine: 'yes' }],
    ] as const) {
      const want = await outcome(() => s.plain.send(send(theirs[0]!, value, headers)))
      const got = await outcome(() => s.client.send(send(ours[0]!, value, headers)))
      expect(renamed(got, ourNames)).toEqual(renamed(want, theirNames))
    }
    expect(await s.records(ours[0]!)).toEqual(await s.records(theirs[0]!))
    s.onPath(s.client)
  })

  it('a compression number KafkaJS has no codec for fails with the error KafkaJS gives, nothing written', async () => {
    const s = await setup()
    const { ours, theirs } = await s.topicPairs(1)
    const send = (t: string) => ({ topic: t, compression: 9 as never, messages: [{ value: 'nine' }] })
    const want = await outcome(() => s.plain.send(send(theirs[0]!)))
    const got = await outcome(() => s.client.send(send(ours[0]!)))
    expect(outcomeFacts(want)).toMatchObject({ ok: false, error: { className: 'TypeError' } })
    expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    expect(await s.records(ours[0]!)).toEqual([])
  })

  it('an invalid topic name fails with the error KafkaJS gives after the broker refused it (class, message, cause)', async () => {
    const s = await setup()
    for (const topic of ['not a valid topic!', 'x'.repeat(250)]) {
      const want = await outcome(() => s.plain.send({ topic, messages: [{ value: 'v' }] }))
      const got = await outcome(() => s.client.send({ topic, messages: [{ value: 'v' }] }))
      expect(outcomeFacts(want)).toMatchObject({
        ok: false,
        error: { className: 'KafkaJSNonRetriableError', retriable: false },
      })
      expect(withCause(got)).toEqual(withCause(want))
    }
    expect(s.cluster.topics().filter((t) => t.startsWith('not a') || t.startsWith('xxx'))).toEqual([])
    s.onPath(s.client)
  })

  it("a record too large for the broker fails its send, and the send's records for other partitions are written, as in KafkaJS", async () => {
    const s = await setup()
    const { ours, theirs, ourNames, theirNames } = await s.topicPairs(1, 1)
    const huge = Buffer.alloc(1_100_000, 7)
    const batch = ([small, big]: string[]) => ({
      topicMessages: [
        { topic: small!, messages: [{ key: 's', value: 'small' }] },
        { topic: big!, messages: [{ key: 'b', value: huge }] },
      ],
    })
    const want = await outcome(() => s.plain.sendBatch(batch(theirs)))
    const got = await outcome(() => s.client.sendBatch(batch(ours)))
    expect(outcomeFacts(want)).toMatchObject({
      ok: false,
      error: { className: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' },
    })
    expect(outcomeFacts(got)).toEqual(outcomeFacts(want))
    const after = (t: string) => ({ topic: t, messages: [{ key: 's', value: 'after' }] })
    expect(renamed(await outcome(() => s.client.send(after(ours[0]!))), ourNames)).toEqual(
      renamed(await outcome(() => s.plain.send(after(theirs[0]!))), theirNames),
    )
    expect(await s.records(ours[0]!)).toEqual(await s.records(theirs[0]!))
    expect(await s.records(ours[1]!)).toEqual([])
    s.onPath(s.client)
  })

  it('a send to a partition the topic does not have resolves without its records and writes nothing for them, as KafkaJS, and the client warns', async () => {
    const s = await setup()
    const { ours, theirs, ourNames, theirNames } = await s.topicPairs(3)
    const logs = captureLogs()
    const client = new Kafka({
      clientId: 'edge',
      brokers: s.cluster.bootstrapServers,
      logLevel: logLevel.WARN,
      logCreator: logs.logCreator,
      sidecar: { mode, address: s.address },
    }).producer()
    onTestFinished(() => client.disconnect().catch(() => {}))
    await client.connect()
    const reports: DeliveryReport[] = []
    client.on(client.events.DELIVERY, (event) => void reports.push(event.payload))
    for (const messages of [
      [{ partition: 7, value: 'nowhere' }],
      [
        { partition: 7, value: 'nowhere' },
        { partition: 1, value: 'somewhere' },
      ],
    ]) {
      const want = await outcome(() => s.plain.send({ topic: theirs[0]!, messages }))
      const got = await outcome(() => client.send({ topic: ours[0]!, messages }))
      expect(renamed(got, ourNames)).toEqual(renamed(want, theirNames))
    }
    expect(await s.records(ours[0]!)).toEqual(await s.records(theirs[0]!))
    const warnings = logs.entries.filter((e) => e.log.message.includes('no such partition'))
    expect(warnings.map((e) => [e.log.message, e.log.topic, e.log.partition])).toEqual([
      [
        `Records for partition 7 of topic "${ours[0]}" were not written: the topic has no such partition (KafkaJS leaves them out and resolves the send without them)`,
        ours[0],
        7,
      ],
      [
        `Records for partition 7 of topic "${ours[0]}" were not written: the topic has no such partition (KafkaJS leaves them out and resolves the send without them)`,
        ours[0],
        7,
      ],
    ])
    await waitFor('a delivery report per record', () => reports.length === 3)
    expect(reports.map((r) => [r.partition, r.offset, r.error?.message ?? null])).toEqual([
      [7, null, `Not written: topic "${ours[0]}" has no partition 7`],
      [7, null, `Not written: topic "${ours[0]}" has no partition 7`],
      [1, '0', null],
    ])
    if (mode === 'sidecar') expect(client.directConnected).toBe(false)
  })
})

/**
 * The sidecar fails while consumers run (issue 16, item 4), with the sidecar as a pod runs it (the
 * CLI, a child process killed or stopped by its PID) and the client's consumers over grpc-js:
 * nothing is skipped or lost; what was processed and not committed before a kill may come again
 * (at-least-once), and is counted. With a fallback time the consumer joins the group directly
 * during a long outage, and returns to the sidecar once it is back.
 */
import {
  connectedAdmin,
  kafkaFor,
  randomTopic,
  socketPath,
  spawnSidecar,
  startCluster,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { Consumer, EachMessagePayload } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { Kafka } from '../../src/index.js'
import kafkajs from 'kafkajs'
import { consumerOf, recordWriter, report, type Seen } from './e2e-helpers.js'

const PARTITIONS = 4

/** Every record's value -> how many times a handler processed it. */
class Tally {
  readonly seen: Array<Seen & { consumer: number }> = []
  /** Each record takes this long to process. */
  constructor(private readonly delayMs = 1) {}
  handler(consumer: number) {
    return async ({ partition, message }: EachMessagePayload) => {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs))
      this.seen.push({ consumer, partition, offset: Number(message.offset), value: message.value!.toString() })
    }
  }
  unique(): number {
    return new Set(this.seen.map((s) => s.value)).size
  }
  duplicates(): number {
    return this.seen.length - this.unique()
  }
  of(partition: number): Seen[] {
    return this.seen.filter((s) => s.partition === partition)
  }
}

async function setUp() {
  const cluster = await startCluster({ brokers: 1 })
  const topic = randomTopic('faults')
  await cluster.createTopic({ topic, partitions: PARTITIONS })
  const write = await recordWriter(cluster)
  const socket = await socketPath()
  const sidecar = await spawnSidecar(cluster, socket)
  return { cluster, topic, write, socket, sidecar }
}

function clientKafka(cluster: Parameters<typeof kafkaFor>[0], address: string, fallbackAfterMs = 0) {
  return new Kafka({
    clientId: 'e2e-app',
    brokers: cluster.bootstrapServers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 50, maxRetryTime: 500 },
    sidecar: { consumerMode: 'sidecar', address, consumerFallbackAfterMs: fallbackAfterMs },
  })
}

async function running(
  consumer: Consumer,
  topic: string,
  handler: Tally['handler'] extends (n: number) => infer H ? H : never,
) {
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachMessage: handler })
}

describe('the sidecar fails while consumers run', () => {
  it('SIGKILL under load: nothing skipped or lost; a new sidecar on the same socket takes over; pauses hold across it', async () => {
    const { cluster, topic, write, socket, sidecar } = await setUp()
    const kafka = clientKafka(cluster, sidecar.address)
    // A consumer of its own group with partition 0 paused before any record: the pause holds across the new stream.
    const pausedTally = new Tally()
    const pausing = consumerOf(kafka, { groupId: randomTopic('group-paused') })
    await running(pausing, topic, pausedTally.handler(9))
    pausing.pause([{ topic, partitions: [0] }])
    await write(topic, PARTITIONS, 0, 100)
    const groupId = randomTopic('group')
    const tally = new Tally(3)
    for (const i of [0, 1]) await running(consumerOf(kafka, { groupId }), topic, tally.handler(i))
    await waitFor('records flowing', () => tally.unique() >= 120, 15_000)

    await sidecar.kill()
    const processedAtKill = tally.unique()
    await write(topic, PARTITIONS, 100, 50)
    const restarted = await spawnSidecar(cluster, socket)
    await waitFor(
      () => `all 600 records after the restart (have ${tally.unique()})`,
      () => tally.unique() === PARTITIONS * 150,
      25_000,
    )
    report(
      `sidecar SIGKILL with ${processedAtKill} of 400 processed: all 600 records, ${tally.duplicates()} processed twice (processed, not yet committed)`,
    )
    expect(processedAtKill).toBeLessThan(400)
    await waitFor('partitions 1-3 of the paused consumer', () => pausedTally.unique() === 450, 20_000)
    expect(pausedTally.of(0)).toEqual([])
    pausing.resume([{ topic, partitions: [0] }])
    await waitFor('partition 0 after resume', () => pausedTally.unique() === 600, 15_000)
    await restarted.kill()
  }, 60_000)

  it('SIGSTOP for 3 s, then SIGCONT: nothing lost, the consumers resume', async () => {
    const { cluster, topic, write, sidecar } = await setUp()
    await write(topic, PARTITIONS, 0, 50)
    const kafka = clientKafka(cluster, sidecar.address)
    const groupId = randomTopic('group')
    const tally = new Tally()
    for (const i of [0, 1]) await running(consumerOf(kafka, { groupId }), topic, tally.handler(i))
    await waitFor('records flowing', () => tally.unique() >= 60, 15_000)
    sidecar.signal('SIGSTOP')
    await write(topic, PARTITIONS, 50, 50)
    // The fault lasts 3 s; what is asserted is only what comes after it.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const duringStop = tally.unique()
    sidecar.signal('SIGCONT')
    await waitFor(
      () => `all 400 records after SIGCONT (have ${tally.unique()})`,
      () => tally.unique() === PARTITIONS * 100,
      20_000,
    )
    report(`sidecar SIGSTOP 3 s: ${duringStop} processed by then, all 400 after SIGCONT, ${tally.duplicates()} twice`)
    await sidecar.kill()
  }, 40_000)

  it('a long outage with a fallback time: the consumer joins directly, then returns to the sidecar; nothing lost', async () => {
    const { cluster, topic, write, socket, sidecar } = await setUp()
    await write(topic, PARTITIONS, 0, 20)
    const kafka = clientKafka(cluster, sidecar.address, 1_000)
    const groupId = randomTopic('group')
    const admin = await connectedAdmin(kafkaFor(cluster, 'faults-admin'))
    const clientIds = async () => (await admin.describeGroups([groupId])).groups[0]!.members.map((m) => m.clientId)
    const tally = new Tally()
    await running(consumerOf(kafka, { groupId }), topic, tally.handler(0))
    await waitFor('the first 80 records', () => tally.unique() === 80, 15_000)
    expect(await clientIds()).toEqual(['kafka-sidecar'])

    await sidecar.kill()
    await write(topic, PARTITIONS, 20, 20)
    await waitFor('the outage records, consumed directly', () => tally.unique() === 160, 20_000)
    expect(await clientIds()).toEqual(['e2e-app'])

    await spawnSidecar(cluster, socket)
    await waitFor(
      'back through the sidecar',
      async () => JSON.stringify(await clientIds()) === '["kafka-sidecar"]',
      20_000,
    )
    await write(topic, PARTITIONS, 40, 20)
    await waitFor('every record', () => tally.unique() === 240, 15_000)
    report(`fallback and return: 240 records, ${tally.duplicates()} processed twice`)
  }, 60_000)

  it('no sidecar from the start, with a fallback time: run() resolves once consuming directly; disconnect() leaves the group', async () => {
    const cluster = await startCluster({ brokers: 1 })
    const topic = randomTopic('faults')
    await cluster.createTopic({ topic, partitions: PARTITIONS })
    await (
      await recordWriter(cluster)
    )(topic, PARTITIONS, 0, 10)
    const kafka = clientKafka(cluster, `unix://${await socketPath()}`, 500)
    const groupId = randomTopic('group')
    const admin = await connectedAdmin(kafkaFor(cluster, 'faults-admin'))
    const members = async () => (await admin.describeGroups([groupId])).groups[0]!.members.map((m) => m.clientId)
    const tally = new Tally()
    const consumer = consumerOf(kafka, { groupId })
    await running(consumer, topic, tally.handler(0))
    await waitFor('every record, directly', () => tally.unique() === 40, 15_000)
    expect(await members()).toEqual(['e2e-app'])
    await consumer.disconnect()
    expect(await members()).toEqual([])
  }, 30_000)
})

/**
 * Delivery callbacks (the `onDelivery` option and `producer.events.DELIVERY`): exactly one per
 * record in both modes, carrying the topic, partition and offset the cluster actually stored;
 * through the sidecar from the acks (acks 1 and -1: the sidecar publishes no report stream
 * message for them), or for acks 0 (acked on receipt) from the report stream, also when it drops
 * and resumes or loses reports (ring overflow, a restarted sidecar); and a listener that throws
 * or rejects never breaks the producer.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  randomTopic,
  spawnSidecar,
  startCluster,
  startTestSidecar,
  tempDir,
  waitFor,
} from '@kafka-sidecar/test-support'
import type { DeliveryReport, SidecarProducer } from '../src/index.js'
import type { ReportStream } from '../src/transport/report-stream.js'
import { checkReports, idOf, storedId } from './fault-helpers.js'
import { connectedProducer } from './helpers.js'

/** The producer's report stream: the one internal a test reaches for, to drop it on purpose. */
function reportStream(producer: SidecarProducer): ReportStream {
  return (producer as unknown as { sidecar: { reports: ReportStream } }).sidecar.reports
}

function message(id: string, extra: { key?: string | null; partition?: number } = {}) {
  return { value: `value-${id}`, headers: { id }, ...extra }
}

/**
 * A cluster with a 3-partition topic, a sidecar, and a producer through it collecting its delivery
 * reports. Its reportTimeoutMs is long: a report taken from an ack after a wait would come too late
 * for these tests, so each report seen came from where the test says.
 */
async function reportingProducer(name: string, sidecarOptions: Parameters<typeof startTestSidecar>[1] = {}) {
  const cluster = await startCluster()
  const topic = randomTopic(name)
  await cluster.createTopic({ topic, partitions: 3 })
  const sidecar = await startTestSidecar(cluster, sidecarOptions)
  const reports: DeliveryReport[] = []
  const producer = await connectedProducer({
    cluster,
    mode: 'sidecar',
    address: sidecar.address,
    config: { onDelivery: (r) => void reports.push(r) },
    sidecar: { reportTimeoutMs: 60_000 },
  })
  return { cluster, topic, reports, producer }
}

describe('delivery callbacks', () => {
  for (const mode of ['direct', 'sidecar'] as const) {
    it(`${mode}: one report per record, from both the option and the event, matching the cluster`, async () => {
      const cluster = await startCluster()
      const a = randomTopic('reports-a')
      const b = randomTopic('reports-b')
      await cluster.createTopic({ topic: a, partitions: 3 })
      await cluster.createTopic({ topic: b, partitions: 2 })
      const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
      const fromOption: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode,
        address: sidecar?.address,
        config: { onDelivery: (r) => void fromOption.push(r) },
      })
      const fromEvent: DeliveryReport[] = []
      producer.on(producer.events.DELIVERY, (e) => void fromEvent.push(e.payload as DeliveryReport))

      const ids: string[] = []
      const id = (prefix: string) => {
        ids.push(`${prefix}-${ids.length}`)
        return ids.at(-1)!
      }
      const sends: Array<Promise<unknown>> = []
      for (let i = 0; i < 20; i++)
        sends.push(producer.send({ topic: a, messages: [message(id('keyed'), { key: `k${i % 5}` })] }))
      sends.push(
        producer.send({
          topic: a,
          messages: [
            message(id('null-key'), { key: null }),
            message(id('null-key'), { key: null }),
            message(id('null-key')),
          ],
        }),
      )
      sends.push(
        producer.send({
          topic: b,
          messages: [
            message(id('explicit'), { partition: 0 }),
            message(id('explicit'), { partition: 1 }),
            message(id('explicit'), { key: 'x', partition: 0 }),
          ],
        }),
      )
      sends.push(
        producer.sendBatch({
          topicMessages: [
            { topic: a, messages: [message(id('batch'), { key: 'k1' }), message(id('batch'), { key: 'k2' })] },
            { topic: b, messages: [message(id('batch'), { key: 'k1' })] },
            { topic: a, messages: [message(id('batch'), { key: 'k1' })] },
          ],
        }),
      )
      sends.push(producer.send({ topic: b, acks: 1, messages: [message(id('acks1'), { key: 'k3' })] }))
      await Promise.all(sends)

      await waitFor(
        'a report per record from both listeners',
        () => fromOption.length >= ids.length && fromEvent.length >= ids.length,
      )
      const records = [...(await cluster.records(a)), ...(await cluster.records(b))]
      expect(records).toHaveLength(ids.length)
      for (const reports of [fromOption, fromEvent]) {
        expect(checkReports(reports, records, ids)).toEqual([])
        expect(reports.every((r) => r.path === mode)).toBe(true)
      }
      // The same report objects reach both: same order, same content.
      expect(fromEvent).toEqual(fromOption)
    })

    it(`${mode}: acks 0 gives one report per record, with its partition (no offset: the broker does not answer)`, async () => {
      const cluster = await startCluster()
      const topic = randomTopic('acks0')
      await cluster.createTopic({ topic, partitions: 2 })
      const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode,
        address: sidecar?.address,
        config: { onDelivery: (r) => void reports.push(r) },
        sidecar: { reportTimeoutMs: 1_000 },
      })
      await producer.send({
        topic,
        messages: [message('warm-0', { partition: 0 }), message('warm-1', { partition: 1 })],
      })
      await waitFor('the warm-up reports', () => reports.length === 2)
      reports.length = 0
      const ids = Array.from({ length: 6 }, (_, i) => `zero-${i}`)
      await Promise.all(ids.map((i) => producer.send({ topic, acks: 0, messages: [message(i, { key: i })] })))
      await waitFor('the records in the cluster', async () => (await cluster.records(topic)).length === ids.length + 2)
      await waitFor('a report per record', () => reports.length >= ids.length)
      expect(reports.map(idOf).sort()).toEqual([...ids].sort())
      const records = await cluster.records(topic)
      expect(reports.map((r) => [r.error, r.offset, r.path])).toEqual(ids.map(() => [null, null, mode]))
      const partitionOf = new Map(records.map((r) => [storedId(r), r.partition]))
      expect(reports.map((r) => r.partition)).toEqual(reports.map((r) => partitionOf.get(idOf(r))))
      // Once the producer is quiet no report comes twice.
      await producer.disconnect()
      expect(reports).toHaveLength(ids.length)
    })
  }

  it('sidecar: acks -1 and 1 are reported from their acks, with no report stream at all', async () => {
    const { cluster, topic, reports, producer } = await reportingProducer('from-acks')
    reportStream(producer).stop()
    const ids = Array.from({ length: 20 }, (_, i) => `a-${i}`)
    await Promise.all(
      ids.map((i, n) => producer.send({ topic, acks: n % 2 === 0 ? -1 : 1, messages: [message(i, { key: i })] })),
    )
    expect(checkReports(reports, await cluster.records(topic), ids)).toEqual([])
    // The sidecar kept none for the stream to carry later.
    reportStream(producer).start()
    await producer.send({ topic, acks: 0, messages: [message('zero', { key: 'zero' })] })
    await waitFor('the acks 0 report, from the stream', () => reports.length === ids.length + 1)
    expect(checkReports(reports.slice(ids.length), await cluster.records(topic), ['zero'], { acksZero: true })).toEqual(
      [],
    )
    expect(reports.at(-1)!.partition).not.toBeNull()
  })

  it('sidecar, acks 0: a dropped report stream resumes where it stopped: no report lost or repeated', async () => {
    const { cluster, topic, reports, producer } = await reportingProducer('resume')
    const ids = Array.from({ length: 40 }, (_, i) => `r-${i}`)
    const send = (i: string) => producer.send({ topic, acks: 0, messages: [message(i, { key: i })] })
    for (const i of ids.slice(0, 10)) await send(i)
    await waitFor('the first reports', () => reports.length === 10)

    reportStream(producer).stop()
    await Promise.all(ids.slice(10, 25).map(send))
    for (const i of ids.slice(25)) await send(i)
    await waitFor('every record written', async () => (await cluster.records(topic)).length === ids.length)
    expect(reports).toHaveLength(10) // acked on receipt, and their reports wait in the sidecar's ring
    reportStream(producer).start()

    await waitFor('the reports held while the stream was down', () => reports.length >= ids.length, 5_000)
    expect(checkReports(reports, await cluster.records(topic), ids, { acksZero: true })).toEqual([])
    expect(reports.filter((r) => r.partition === null)).toEqual([]) // every one from the stream
    // Nothing comes twice later either.
    await send('late')
    await waitFor('the later report', () => reports.length >= ids.length + 1)
    expect(checkReports(reports, await cluster.records(topic), [...ids, 'late'], { acksZero: true })).toEqual([])
  })

  it(
    'sidecar restarted (SIGKILL, new process on the same socket), acks 0: what the old one never reported and all the new one reports arrive, none twice',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('restart')
      await cluster.createTopic({ topic, partitions: 3 })
      const socket = join(await tempDir(), 'sidecar.sock')
      const first = await spawnSidecar(cluster, socket)
      const reports: DeliveryReport[] = []
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: first.address,
        config: { onDelivery: (r) => void reports.push(r) },
        sidecar: { connectTimeoutMs: 10_000, reportTimeoutMs: 20_000, breaker: { resetTimeoutMs: 200 } },
      })
      let fallbacks = 0
      producer.on(producer.events.FALLBACK, () => void fallbacks++)
      const ids: string[] = []
      /** Sends one record; true when it went through the sidecar. */
      const sendOne = async () => {
        const id = `s-${ids.length}`
        ids.push(id)
        const before = fallbacks
        await producer.send({ topic, acks: 0, messages: [message(id, { key: id })] })
        return fallbacks === before
      }
      for (let i = 0; i < 5; i++) await sendOne()
      await waitFor("the first sidecar's reports", () => reports.length === 5)
      // Three more acked by the first sidecar whose reports it still holds when it dies.
      reportStream(producer).stop()
      for (let i = 0; i < 3; i++) expect(await sendOne()).toBe(true)
      await waitFor('every record written', async () => (await cluster.records(topic)).length === 8)
      expect(reports).toHaveLength(5)
      await first.kill()
      reportStream(producer).start()
      await waitFor('the reports the dead sidecar never sent, from their acks', () => reports.length === 8, 5_000)

      await spawnSidecar(cluster, socket)
      // Traffic goes back to the new sidecar (one request per send, so its report sequence soon
      // passes where the client had read the old one to) before the report stream reconnects.
      reportStream(producer).stop()
      await waitFor('a record through the new sidecar', sendOne, 10_000)
      for (let i = 0; i < 10; i++) expect(await sendOne()).toBe(true)
      const sentToNew = ids.length
      reportStream(producer).start()

      await waitFor('a report for every record', () => reports.length >= sentToNew, 5_000)
      // acks 0: a report says the request went to the broker, not that it has appended it yet.
      await waitFor('every record written', async () => (await cluster.records(topic)).length === ids.length)
      // Those the dead sidecar held come from their acks (on receipt): no partition.
      expect(checkReports(reports, await cluster.records(topic), ids, { acksZero: true })).toEqual([])
      expect(reports.slice(5, 8).map((r) => [idOf(r), r.partition])).toEqual(ids.slice(5, 8).map((id) => [id, null]))
    },
  )

  it('sidecar, acks 0: reports lost to a ring overflow are recovered from the acks, each exactly once', async () => {
    const { cluster, topic, reports, producer } = await reportingProducer('gap', { reportsPerInstance: 4 })
    const ids = Array.from({ length: 30 }, (_, i) => `g-${i}`)
    const send = (i: string) => producer.send({ topic, acks: 0, messages: [message(i, { key: i })] })
    for (const i of ids.slice(0, 5)) await send(i)
    await waitFor('the first reports', () => reports.length === 5)

    reportStream(producer).stop()
    // One request each, so the sidecar writes 25 reports into a ring of 4: 21 are overwritten.
    for (const i of ids.slice(5)) await send(i)
    await waitFor('every record written', async () => (await cluster.records(topic)).length === ids.length)
    expect(reports).toHaveLength(5)
    reportStream(producer).start()

    await waitFor('every report, the lost ones from the acks', () => reports.length >= ids.length, 5_000)
    expect(checkReports(reports, await cluster.records(topic), ids, { acksZero: true })).toEqual([])
    // Told of the gap, the client reports every record still open from its ack (no partition:
    // acked on receipt), the ring's last 4 included; those 4 then find their records reported.
    expect(reports.filter((r) => r.partition === null)).toHaveLength(25)
    // And nothing more trickles in later from the ring's last four.
    for (const i of ['late-0', 'late-1']) await send(i)
    await waitFor('the later reports', () => reports.length >= ids.length + 2)
    expect(
      checkReports(reports, await cluster.records(topic), [...ids, 'late-0', 'late-1'], { acksZero: true }),
    ).toEqual([])
  })

  for (const mode of ['direct', 'sidecar'] as const) {
    it(`${mode}: listeners that throw or reject never break the producer or the other listeners`, async () => {
      const cluster = await startCluster()
      const topic = randomTopic('listeners')
      await cluster.createTopic({ topic, partitions: 2 })
      const sidecar = mode === 'sidecar' ? await startTestSidecar(cluster) : null
      let optionCalls = 0
      const producer = await connectedProducer({
        cluster,
        mode,
        address: sidecar?.address,
        config: {
          onDelivery: () => {
            optionCalls++
            throw new Error('onDelivery throws')
          },
        },
      })
      let rejecting = 0
      producer.on(producer.events.DELIVERY, async () => {
        rejecting++
        throw new Error('async listener rejects')
      })
      producer.on(producer.events.DELIVERY, () => {
        throw new Error('sync listener throws')
      })
      const reports: DeliveryReport[] = []
      producer.on(producer.events.DELIVERY, (e) => void reports.push(e.payload as DeliveryReport))

      const ids = Array.from({ length: 12 }, (_, i) => `l-${i}`)
      const results = await Promise.all(ids.map((i) => producer.send({ topic, messages: [message(i, { key: i })] })))
      expect(results.every((r) => r.length === 1 && r[0]!.errorCode === 0)).toBe(true)
      await waitFor('every report', () => reports.length >= ids.length)
      expect(optionCalls).toBe(ids.length)
      expect(rejecting).toBe(ids.length)
      expect(checkReports(reports, await cluster.records(topic), ids)).toEqual([])
      // Still usable afterwards.
      await producer.send({ topic, messages: [message('after', { key: 'after' })] })
      await waitFor('the last report', () => reports.length === ids.length + 1)
      expect(producer.breakerState).toBe('closed')
    })
  }
})

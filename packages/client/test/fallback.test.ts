/**
 * Fallback to direct Kafka when the sidecar path fails, and the way back. The sidecar is a real
 * child process (the CLI), so it can be killed (SIGKILL) or frozen (SIGSTOP) as a pod's sidecar
 * container would be; the cluster is embedded-kafka over TCP; everything is checked against what
 * the cluster stored.
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
import type { DeliveryReport } from '../src/index.js'
import { checkPerKeyOrder, checkReports, idOf, KeyedSender } from './fault-helpers.js'
import { connectedProducer, openConnections } from './helpers.js'

const KEYS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']

describe('fallback to direct Kafka', () => {
  it(
    'sidecar killed mid-stream: the breaker opens, sends go direct without loss or reordering, and traffic returns to a restarted sidecar',
    { timeout: 30_000 },
    async ({ annotate }) => {
      const cluster = await startCluster()
      const topic = randomTopic('kill')
      await cluster.createTopic({ topic, partitions: 3 })
      const socket = join(await tempDir(), 'sidecar.sock')
      const first = await spawnSidecar(cluster, socket)

      const reports: Array<DeliveryReport & { at: number }> = []
      const fallbacks: Array<{ reason: string; records: number }> = []
      const breakerEvents: Array<{ type: string; state: string }> = []
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: first.address,
        config: { onDelivery: (r) => void reports.push({ ...r, at: Date.now() }) },
        sidecar: {
          connectTimeoutMs: 10_000,
          requestTimeoutMarginMs: 2_000,
          fallbackIdleMs: 3_000,
          reportTimeoutMs: 20_000,
          breaker: {
            resetTimeoutMs: 500,
            volumeThreshold: 3,
            errorThresholdPercentage: 50,
            rollingCountTimeoutMs: 1_000,
          },
        },
      })
      producer.on(
        producer.events.FALLBACK,
        (e) => void fallbacks.push(e.payload as { reason: string; records: number }),
      )
      for (const type of [
        producer.events.BREAKER_OPEN,
        producer.events.BREAKER_HALF_OPEN,
        producer.events.BREAKER_CLOSE,
      ]) {
        producer.on(type, () => void breakerEvents.push({ type, state: producer.breakerState }))
      }
      expect(producer.mode).toBe('sidecar')
      expect(producer.breakerState).toBe('closed')

      const sender = new KeyedSender(producer, topic, KEYS, { window: 3 })
      sender.start()
      try {
        const viaSidecar = (since: number) => reports.filter((r) => r.path === 'sidecar' && r.at >= since).length
        const viaDirect = (since: number) => reports.filter((r) => r.path === 'direct' && r.at >= since).length
        await waitFor('records through the first sidecar', () => viaSidecar(0) >= 60)
        expect(producer.directConnected).toBe(false)
        expect(fallbacks).toEqual([])

        // Kill the sidecar with sends in flight.
        const killedAt = Date.now()
        await first.kill()
        await waitFor('the breaker to open', () => breakerEvents.some((e) => e.type === producer.events.BREAKER_OPEN))
        expect(breakerEvents.find((e) => e.type === producer.events.BREAKER_OPEN)!.state).toBe('open')
        await waitFor('breakerState open', () => producer.breakerState === 'open')
        await waitFor('records written directly', () => viaDirect(killedAt) >= 60)
        expect(producer.directConnected).toBe(true)
        expect(sender.failures).toEqual([])
        const directOnly = openConnections(cluster) // the first sidecar's connections are gone; only the client's direct producer's remain

        // A new sidecar on the same socket: the half-open probe succeeds and traffic returns.
        const second = await spawnSidecar(cluster, socket)
        const restartedAt = Date.now()
        await waitFor(
          'the breaker to close',
          () => breakerEvents.some((e) => e.type === producer.events.BREAKER_CLOSE),
          15_000,
        )
        expect(producer.breakerState).toBe('closed')
        await waitFor('records through the second sidecar', () => viaSidecar(restartedAt) >= 60)
        expect(second.address).toBe(first.address)

        // The fallback producer is let go after fallbackIdleMs: the client holds no broker connection.
        const withDirect = openConnections(cluster)
        await waitFor('the fallback producer to disconnect', () => !producer.directConnected, 10_000)
        await waitFor(
          `connections to drop by the direct producer's ${directOnly}`,
          () => openConnections(cluster) === withDirect - directOnly,
        )
        expect(directOnly).toBeGreaterThan(0)
      } finally {
        await sender.stop()
      }

      expect(sender.failures).toEqual([])
      const records = await cluster.records(topic)
      const order = checkPerKeyOrder(records)
      expect(order.violations).toEqual([])
      for (const key of KEYS) expect([...order.partitionsByKey.get(key)!]).toHaveLength(1)
      const missing = sender.acked.filter((a) => !order.values.has(a.value)).map((a) => a.value)
      expect(missing).toEqual([])
      // At-least-once: only records whose sidecar attempt failed (and were resent directly) may repeat.
      const resent = fallbacks.filter((f) => f.reason !== 'circuit breaker open').reduce((n, f) => n + f.records, 0)
      const summary = `${sender.acked.length} records acked, ${records.length} stored, ${order.duplicates} duplicates, ${resent} resent after a failed sidecar attempt`
      await annotate(summary)
      expect(order.duplicates, summary).toBeLessThanOrEqual(resent)
      expect(records.length).toBe(sender.acked.length + order.duplicates)

      await waitFor('a delivery report for every acked record', () => reports.length >= sender.acked.length)
      expect(
        checkReports(
          reports,
          records,
          sender.acked.map((a) => a.value),
        ),
      ).toEqual([])
      expect(reports.map(idOf).sort()).toEqual(sender.acked.map((a) => a.value).sort())
    },
  )

  it(
    'sidecar not started at connect: connect() waits at most connectTimeoutMs, sends go direct, and a sidecar started later takes the traffic back',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('late')
      await cluster.createTopic({ topic, partitions: 2 })
      const socket = join(await tempDir(), 'sidecar.sock')
      const reports: DeliveryReport[] = []
      const connectTimeoutMs = 700
      const startedAt = Date.now()
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: `unix://${socket}`,
        config: { onDelivery: (r) => void reports.push(r) },
        sidecar: { connectTimeoutMs, fallbackIdleMs: 1_000, breaker: { resetTimeoutMs: 300 } },
      })
      const waited = Date.now() - startedAt
      expect(waited).toBeGreaterThanOrEqual(connectTimeoutMs - 50)
      expect(waited).toBeLessThan(connectTimeoutMs + 2_000)
      expect(producer.mode).toBe('sidecar')
      expect(producer.breakerState).not.toBe('closed')

      await producer.send({ topic, messages: [{ key: 'k', value: 'early', headers: { id: 'early' } }] })
      expect(reports.map((r) => [idOf(r), r.path, r.error])).toEqual([['early', 'direct', null]])
      expect(producer.directConnected).toBe(true)

      await startTestSidecar(cluster, { listen: `unix://${socket}` })
      let n = 0
      await waitFor('a record through the sidecar', async () => {
        const id = `later-${n++}`
        await producer.send({ topic, messages: [{ key: 'k', value: id, headers: { id } }] })
        return reports.at(-1)!.path === 'sidecar'
      })
      expect(producer.breakerState).toBe('closed')
      await waitFor('the fallback producer to disconnect', () => !producer.directConnected)

      const stored = (await cluster.records(topic)).map((r) => r.value!.toString())
      expect(stored).toEqual(['early', ...Array.from({ length: n }, (_, i) => `later-${i}`)])
      expect(checkReports(reports, await cluster.records(topic), stored)).toEqual([])
    },
  )

  it(
    'sidecar frozen (SIGSTOP): the send does not hang, it falls back and succeeds; after SIGCONT traffic returns',
    { timeout: 20_000 },
    async () => {
      const cluster = await startCluster()
      const topic = randomTopic('slow')
      await cluster.createTopic({ topic, partitions: 1 })
      const socket = join(await tempDir(), 'sidecar.sock')
      const sidecar = await spawnSidecar(cluster, socket)
      const reports: DeliveryReport[] = []
      const fallbacks: Array<{ reason: string }> = []
      const liveness = 1_000
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        config: { onDelivery: (r) => void reports.push(r) },
        sidecar: {
          connectTimeoutMs: 10_000,
          livenessTimeoutMs: liveness,
          reportTimeoutMs: 5_000,
          breaker: { volumeThreshold: 1, errorThresholdPercentage: 25, resetTimeoutMs: 500 },
        },
      })
      producer.on(producer.events.FALLBACK, (e) => void fallbacks.push(e.payload as { reason: string }))
      await producer.send({ topic, messages: [{ value: 'k:0', headers: { id: 'k:0' } }] })
      await waitFor('the first report', () => reports.length === 1)
      expect(reports[0]!.path).toBe('sidecar')

      sidecar.signal('SIGSTOP')
      const started = Date.now()
      // The send's own timeout (30 s by default) plays no part: the unanswered ping tells.
      await producer.send({ topic, messages: [{ value: 'k:1', headers: { id: 'k:1' } }] })
      const took = Date.now() - started
      // Pings go every half liveness timeout and may wait the other half: told within [half, whole].
      expect(took).toBeGreaterThanOrEqual(liveness / 2 - 50)
      expect(took).toBeLessThan(2 * liveness + 5_000)
      expect(fallbacks.map((f) => f.reason)).toEqual([expect.stringMatching(/^sidecar stream failed/)])
      expect(producer.breakerState).toBe('open')
      await producer.send({ topic, messages: [{ value: 'k:2', headers: { id: 'k:2' } }] }) // open: straight to the direct path
      expect(reports.slice(1).map((r) => [idOf(r), r.path])).toEqual([
        ['k:1', 'direct'],
        ['k:2', 'direct'],
      ])

      sidecar.signal('SIGCONT')
      let n = 3
      await waitFor('a record through the sidecar again', async () => {
        const id = `k:${n++}`
        await producer.send({ topic, messages: [{ value: id, headers: { id } }] })
        return reports.at(-1)!.path === 'sidecar'
      })
      const records = await cluster.records(topic)
      const order = checkPerKeyOrder(records)
      expect(order.violations).toEqual([])
      const sent = Array.from({ length: n }, (_, i) => `k:${i}`)
      expect([...order.values].sort()).toEqual(sent.sort())
      // The frozen sidecar still held k:1; after SIGCONT it may write it: at most that one duplicate.
      expect(order.duplicates).toBeLessThanOrEqual(1)
      await waitFor('every report', () => reports.length === n)
      expect(checkReports(reports, records, sent)).toEqual([])
    },
  )
})

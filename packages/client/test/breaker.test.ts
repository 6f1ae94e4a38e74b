/**
 * The circuit breaker's timing, with vitest's fake timers for the client (the only place they
 * are used): it opens on transport failures, stays open for exactly resetTimeoutMs, half-opens,
 * and a successful probe closes it (a failed one opens it again for another resetTimeoutMs).
 * Everything else is real: the sidecar is a child process (its clock is its own), the cluster is
 * embedded-kafka over TCP. The fake clock also advances with real time (shouldAdvanceTime), so
 * grpc-js and KafkaJS in this process keep working; resetTimeoutMs stays under grpc's 30 s
 * keepalive so a jump never fires a keepalive deadline.
 */
import { renameSync } from 'node:fs'
import { join } from 'node:path'
import { connectivityState } from '@grpc/grpc-js'
import type { ProducerSidecarClient } from '@kafka-sidecar/proto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { randomTopic, sidecarReady, spawnSidecar, startCluster, tempDir, waitFor } from '@kafka-sidecar/test-support'
import type { DeliveryReport, SidecarProducer } from '../src/index.js'
import { idOf } from './fault-helpers.js'
import { connectedProducer } from './helpers.js'

const RESET_MS = 20_000

function grpcChannel(producer: SidecarProducer): ReturnType<ProducerSidecarClient['getChannel']> {
  return (producer as unknown as { sidecar: { client: ProducerSidecarClient } }).sidecar.client.getChannel()
}

afterEach(() => {
  vi.useRealTimers()
})

async function setup() {
  const cluster = await startCluster()
  const topic = randomTopic('breaker')
  await cluster.createTopic({ topic, partitions: 2 })
  const socket = join(await tempDir(), 'sidecar.sock')
  const first = await spawnSidecar(cluster, socket)
  const reports: DeliveryReport[] = []
  const producer = await connectedProducer({
    cluster,
    mode: 'sidecar',
    address: first.address,
    config: { onDelivery: (r) => void reports.push(r) },
    sidecar: {
      connectTimeoutMs: 10_000,
      reportTimeoutMs: 5_000,
      breaker: { resetTimeoutMs: RESET_MS, volumeThreshold: 2, errorThresholdPercentage: 50 },
    },
  })
  const events: string[] = []
  let openedAt = 0
  for (const [name, type] of [
    ['open', producer.events.BREAKER_OPEN],
    ['half_open', producer.events.BREAKER_HALF_OPEN],
    ['close', producer.events.BREAKER_CLOSE],
  ] as const) {
    producer.on(type, () => {
      events.push(name)
      if (name === 'open') openedAt = Date.now()
    })
  }
  /** Fake milliseconds since the breaker last opened (Date is faked with the timers). */
  const sinceOpen = () => Date.now() - openedAt
  let n = 0
  /** Sends one record and resolves with the path its delivery report names. */
  const send = async (key = 'k'): Promise<string> => {
    const id = `${key}:${n++}`
    await producer.send({ topic, messages: [{ key, value: id, headers: { id } }] })
    await waitFor(`the report of ${id}`, () => reports.some((r) => idOf(r) === id))
    return reports.find((r) => idOf(r) === id)!.path
  }
  expect(await send()).toBe('sidecar')
  return { cluster, socket, first, producer, events, send, topic, reports, sinceOpen }
}

/** Kills the sidecar (fake timers from here on) and sends until the breaker opens. */
async function openBreaker(
  first: { kill(): Promise<unknown> },
  producer: SidecarProducer,
  events: string[],
  send: () => Promise<string>,
) {
  await first.kill()
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], shouldAdvanceTime: true })
  // Each send fails on the sidecar path and is written directly; the second failure opens it.
  for (let i = 0; i < 5 && !events.includes('open'); i++) expect(await send()).toBe('direct')
  expect(events).toEqual(['open'])
  expect(producer.breakerState).toBe('open')
}

describe('circuit breaker timing (fake timers)', () => {
  it(
    'stays open for exactly resetTimeoutMs, then half-opens, and a successful probe closes it',
    { timeout: 30_000 },
    async () => {
      const { cluster, socket, first, producer, events, send, sinceOpen } = await setup()
      await openBreaker(first, producer, events, send)

      // The sidecar is back, but the breaker keeps traffic direct until resetTimeoutMs has passed.
      await sidecarReady((await spawnSidecar(cluster, socket)).address)
      await waitFor(
        'the producer channel to connect',
        () => grpcChannel(producer).getConnectivityState(true) === connectivityState.READY,
      )
      expect(await send()).toBe('direct')
      expect(sinceOpen()).toBeLessThan(RESET_MS - 1_000)
      vi.advanceTimersByTime(RESET_MS - 1_000 - sinceOpen())
      expect(producer.breakerState).toBe('open')
      expect(await send()).toBe('direct')
      vi.advanceTimersByTime(RESET_MS - 1 - sinceOpen())
      expect(producer.breakerState).toBe('open')
      vi.advanceTimersByTime(1)
      expect(events).toEqual(['open', 'half_open'])
      expect(producer.breakerState).toBe('half_open')

      // One probe goes to the sidecar and closes the breaker.
      expect(await send()).toBe('sidecar')
      expect(events).toEqual(['open', 'half_open', 'close'])
      expect(producer.breakerState).toBe('closed')
      expect(await send()).toBe('sidecar')
    },
  )

  it(
    "the probe waits for the producer's channel to reconnect, so a sidecar that is back closes the breaker at once",
    { timeout: 30_000 },
    async () => {
      const { cluster, socket, first, producer, events, send } = await setup()
      await openBreaker(first, producer, events, send)
      // The sidecar is back, but the producer's channel is still in its reconnect backoff from the
      // dead one (nothing has used it since): a call made now would fail at once with the old error.
      // The new sidecar listens on another path and its socket is moved into place only once it is
      // ready, so the channel cannot reconnect on its own while a loaded machine starts the sidecar.
      const aside = `${socket}.starting`
      await sidecarReady((await spawnSidecar(cluster, aside)).address)
      expect(grpcChannel(producer).getConnectivityState(false)).not.toBe(connectivityState.READY)
      renameSync(aside, socket)
      vi.advanceTimersByTime(RESET_MS)
      expect(producer.breakerState).toBe('half_open')
      expect(await send()).toBe('sidecar')
      expect(events).toEqual(['open', 'half_open', 'close'])
    },
  )

  it('a failed probe opens it again for another resetTimeoutMs', { timeout: 30_000 }, async () => {
    const { first, producer, events, send, sinceOpen } = await setup()
    await openBreaker(first, producer, events, send)

    vi.advanceTimersByTime(RESET_MS - 1 - sinceOpen())
    expect(producer.breakerState).toBe('open')
    vi.advanceTimersByTime(1)
    expect(producer.breakerState).toBe('half_open')
    expect(await send()).toBe('direct') // the probe fails (no sidecar) and is written directly
    expect(events).toEqual(['open', 'half_open', 'open'])
    expect(producer.breakerState).toBe('open')

    // A new full resetTimeoutMs from the failed probe.
    vi.advanceTimersByTime(RESET_MS - 1 - sinceOpen())
    expect(producer.breakerState).toBe('open')
    vi.advanceTimersByTime(1)
    expect(producer.breakerState).toBe('half_open')
  })

  it(
    'while half-open only one send probes the sidecar; the others go direct after it settled, in order',
    { timeout: 30_000 },
    async () => {
      const { cluster, socket, first, producer, events, send, topic, reports } = await setup()
      await openBreaker(first, producer, events, send)
      await sidecarReady((await spawnSidecar(cluster, socket)).address)
      // The producer's channel may still be in its reconnect backoff from the dead sidecar (a call
      // then fails at once with the last error, and the probe with it): wait until it is connected.
      await waitFor(
        'the producer channel to connect',
        () => grpcChannel(producer).getConnectivityState(true) === connectivityState.READY,
      )
      vi.advanceTimersByTime(RESET_MS)
      expect(producer.breakerState).toBe('half_open')

      const ids = Array.from({ length: 5 }, (_, i) => `burst:${i}`)
      const settled: string[] = []
      await Promise.all(
        ids.map((id) =>
          producer
            .send({ topic, messages: [{ key: 'burst', value: id, headers: { id } }] })
            .then(() => void settled.push(id)),
        ),
      )
      expect(settled).toEqual(ids)
      expect(events).toEqual(['open', 'half_open', 'close'])
      const stored = (await cluster.records(topic))
        .filter((r) => r.key?.toString() === 'burst')
        .map((r) => r.value!.toString())
      expect(stored).toEqual(ids)
      await waitFor(
        'the burst reports',
        () => reports.filter((r) => idOf(r).startsWith('burst:')).length === ids.length,
      )
      expect(reports.filter((r) => idOf(r).startsWith('burst:')).map((r) => [idOf(r), r.path])).toEqual(
        ids.map((id, i) => [id, i === 0 ? 'sidecar' : 'direct']),
      )
    },
  )
})

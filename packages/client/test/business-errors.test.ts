/**
 * The sidecar's verdicts on the records themselves (invalid topic, record too large, topic not
 * allowed, wrong token) are the caller's errors, not the sidecar failing: the send rejects with a
 * KafkaJS error naming the problem, the breaker stays closed, and nothing is written directly.
 */
import kafkajs from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import type { DeliveryReport, SidecarProducer } from '../src/index.js'
import { connectedProducer } from './helpers.js'

const TOKEN = 'a-shared-token-of-32-characters!'
/** More than the breaker's volume threshold (3): were they counted, the breaker would open. */
const ATTEMPTS = 6

/** The error's message and its cause's: KafkaJS's own wording, and the sidecar's explanation. */
function explained(error: Error): string {
  return [error.message, (error.cause as Error | undefined)?.message ?? ''].join(' | ')
}

async function rejection(send: () => Promise<unknown>): Promise<Error> {
  try {
    await send()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected the send to reject')
}

describe('business errors do not open the breaker', () => {
  async function setup() {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, {
      allowedTopics: ['allowed-*'],
      maxRecordBytes: 1_000,
      token: TOKEN,
    })
    const watch = (producer: SidecarProducer) => {
      const seen = { fallbacks: 0, breakerOpened: 0, reports: [] as DeliveryReport[] }
      producer.on(producer.events.FALLBACK, () => void seen.fallbacks++)
      producer.on(producer.events.BREAKER_OPEN, () => void seen.breakerOpened++)
      producer.on(producer.events.DELIVERY, (e) => void seen.reports.push(e.payload as DeliveryReport))
      return seen
    }
    const producer = await connectedProducer({
      cluster,
      mode: 'sidecar',
      address: sidecar.address,
      sidecar: { token: TOKEN },
    })
    return { cluster, sidecar, producer, seen: watch(producer), watch }
  }

  function expectNothingDirect(producer: SidecarProducer, seen: { fallbacks: number; breakerOpened: number }) {
    expect(producer.breakerState).toBe('closed')
    expect(seen.breakerOpened).toBe(0)
    expect(seen.fallbacks).toBe(0)
    expect(producer.directConnected).toBe(false)
  }

  it('invalid topic name: KafkaJSNonRetriableError caused by INVALID_TOPIC_EXCEPTION, as KafkaJS, nothing written', async () => {
    const { cluster, producer, seen } = await setup()
    const topic = 'allowed-not a valid name!'
    for (let i = 0; i < ATTEMPTS; i++) {
      const error = await rejection(() => producer.send({ topic, messages: [{ value: `v${i}` }] }))
      expect(error).toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
      expect(error.cause).toBeInstanceOf(kafkajs.KafkaJSProtocolError)
      expect(error.cause).toMatchObject({ type: 'INVALID_TOPIC_EXCEPTION', code: 17, retriable: false })
      // Not a `cause` (KafkaJS sets none there): the sidecar's explanation is in the stack logs print.
      expect(error.stack).toMatch(/Explained by the sidecar: invalid topic.*contains a character/)
    }
    expectNothingDirect(producer, seen)
    expect(cluster.topics()).not.toContain(topic)
    expect(seen.reports).toHaveLength(ATTEMPTS)
    expect(
      seen.reports.every(
        (r) => r.error instanceof kafkajs.KafkaJSNonRetriableError && r.offset === null && r.path === 'sidecar',
      ),
    ).toBe(true)
  })

  it('record larger than the sidecar limit: MESSAGE_TOO_LARGE, other records of other sends unaffected', async () => {
    const { cluster, producer, seen } = await setup()
    const topic = randomTopic('allowed-big')
    await cluster.createTopic({ topic, partitions: 1 })
    for (let i = 0; i < ATTEMPTS; i++) {
      // A good send in the same tick is coalesced with the bad one; it must still succeed alone.
      const [bad, good] = await Promise.allSettled([
        producer.send({ topic, messages: [{ value: Buffer.alloc(2_000, 120) }] }),
        producer.send({ topic, messages: [{ value: `good-${i}` }] }),
      ])
      expect(bad.status).toBe('rejected')
      const error = (bad as PromiseRejectedResult).reason as Error
      expect(error).toBeInstanceOf(kafkajs.KafkaJSProtocolError)
      expect(error).toMatchObject({ type: 'MESSAGE_TOO_LARGE', code: 10 })
      expect(explained(error)).toMatch(/larger than max_record_bytes 1000/)
      expect(good.status).toBe('fulfilled')
    }
    expectNothingDirect(producer, seen)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(
      Array.from({ length: ATTEMPTS }, (_, i) => `good-${i}`),
    )
  })

  it('a refused send among pipelined ones leaves the others written, in send order', async () => {
    const { cluster, producer, seen } = await setup()
    const topic = randomTopic('allowed-order')
    await cluster.createTopic({ topic, partitions: 1 })
    // 20 turns of the event loop, 10 sends each, so several merged messages are in flight when
    // one is refused for its oversized record; what was pipelined behind it must not overtake
    // the refused message's good sends.
    const sends: Array<Promise<unknown>> = []
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 10; i++) {
        const n = turn * 10 + i
        const send = producer.send({
          topic,
          messages: [{ value: n % 23 === 5 ? Buffer.alloc(2_000, 120) : `good-${n}` }],
        })
        send.catch(() => {}) // settled below; refusals may come before all are sent
        sends.push(send)
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    const settled = await Promise.allSettled(sends)
    const expected = settled.map((_, n) => n).filter((n) => n % 23 !== 5)
    expect(
      settled
        .map((r, n) => [n, r.status])
        .filter(([, status]) => status === 'rejected')
        .map(([n]) => n),
    ).toEqual(settled.map((_, n) => n).filter((n) => n % 23 === 5))
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(expected.map((n) => `good-${n}`))
    expectNothingDirect(producer, seen)
  })

  it('topic outside the allow-list: TOPIC_AUTHORIZATION_FAILED, nothing written', async () => {
    const { cluster, producer, seen } = await setup()
    const topic = randomTopic('forbidden')
    await cluster.createTopic({ topic, partitions: 1 })
    for (let i = 0; i < ATTEMPTS; i++) {
      const error = await rejection(() => producer.send({ topic, messages: [{ value: `v${i}` }] }))
      expect(error).toBeInstanceOf(kafkajs.KafkaJSProtocolError)
      expect(error).toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED', code: 29 })
      expect(explained(error)).toContain(`topic "${topic}" is not in this sidecar's allow-list`)
    }
    expectNothingDirect(producer, seen)
    expect(await cluster.records(topic)).toEqual([])
  })

  it('wrong token: a non-retriable KafkaJS error naming the token, nothing written directly', async () => {
    const { cluster, sidecar, watch } = await setup()
    const topic = randomTopic('allowed-token')
    await cluster.createTopic({ topic, partitions: 1 })
    for (const token of ['not-the-right-token-at-all-000000', undefined]) {
      const producer = await connectedProducer({
        cluster,
        mode: 'sidecar',
        address: sidecar.address,
        sidecar: token ? { token } : {},
      })
      const seen = watch(producer)
      for (let i = 0; i < ATTEMPTS; i++) {
        const error = await rejection(() => producer.send({ topic, messages: [{ value: `v${i}` }] }))
        expect(error).toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
        expect(explained(error)).toMatch(token ? /invalid token/ : /missing "authorization: Bearer <token>"/)
        expect(explained(error)).toMatch(/UNAUTHENTICATED/)
      }
      expectNothingDirect(producer, seen)
    }
    expect(await cluster.records(topic)).toEqual([])
  })
})

/**
 * The handler wrapper on its own, with payloads built here: which errors it never retries nor
 * dead-letters (KafkaJS's rejoin errors, a failed helper, a stale or stopped batch), the heartbeats
 * of a long backoff (fake timers), and the edges of eachBatch. The end-to-end behaviour, in both
 * modes, is dead-letter.test.ts.
 */
import kafkajs from 'kafkajs'
import type { Batch, EachBatchPayload, EachMessagePayload, KafkaMessage } from 'kafkajs'
import protocolError from 'kafkajs/src/protocol/error.js'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadLetterHandlers } from '../../src/consumer/dead-letter-handler.js'
import type { Failure } from '../../src/consumer/dead-letter-record.js'

afterEach(() => vi.useRealTimers())

const REBALANCE_IN_PROGRESS = 27

function handlers(options: { attempts?: number; initialMs?: number; multiplier?: number } = {}) {
  const dead: Failure[] = []
  const stopping = new AbortController()
  const wrapper = new DeadLetterHandlers({
    policy: {
      topic: 'dlq',
      attempts: options.attempts ?? 3,
      backoff: { initialMs: options.initialMs ?? 0, maxMs: 60_000, multiplier: options.multiplier ?? 1 },
    },
    groupId: 'g',
    log: new kafkajs.Kafka({ brokers: ['127.0.0.1:9'], logLevel: kafkajs.logLevel.NOTHING }).logger(),
    heartbeatInterval: 1_000,
    deadLetter: async (failure) => void dead.push(failure),
    stopSignal: () => stopping.signal,
  })
  return { wrapper, dead, stopping }
}

const message = (offset: number): KafkaMessage =>
  ({
    offset: String(offset),
    key: null,
    value: Buffer.from(`v${offset}`),
    timestamp: '0',
    attributes: 0,
    headers: {},
  }) as KafkaMessage

function messagePayload(overrides: Partial<EachMessagePayload> = {}): EachMessagePayload {
  return {
    topic: 't',
    partition: 0,
    message: message(5),
    heartbeat: async () => {},
    pause: () => () => {},
    ...overrides,
  }
}

function batchPayload(offsets: number[], overrides: Partial<EachBatchPayload> = {}) {
  const resolved: string[] = []
  const messages = offsets.map(message)
  const batch = {
    topic: 't',
    partition: 0,
    highWatermark: String(offsets.at(-1)! + 1),
    messages,
    isEmpty: () => messages.length === 0,
    firstOffset: () => messages[0]!.offset,
    lastOffset: () => messages.at(-1)!.offset,
    offsetLag: () => '0',
    offsetLagLow: () => '0',
  } as Batch
  const payload: EachBatchPayload = {
    batch,
    resolveOffset: (offset) => void resolved.push(offset),
    heartbeat: async () => {},
    commitOffsetsIfNecessary: async () => {},
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
    pause: () => () => {},
    ...overrides,
  }
  return { payload, resolved }
}

describe('errors meant to stop the consumer are thrown on at once, never dead-lettered', () => {
  it.each(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID'])(
    'a handler error of type %s',
    async (type) => {
      const { wrapper, dead } = handlers()
      const error = Object.assign(new kafkajs.KafkaJSError('group moved'), { type })
      let calls = 0
      const wrapped = wrapper.eachMessage(async () => {
        calls++
        throw error
      })
      await expect(wrapped(messagePayload())).rejects.toBe(error)
      expect([calls, dead.length]).toEqual([1, 0])
    },
  )

  it('heartbeat() failing inside the handler (a rebalance), whatever the handler throws after', async () => {
    const { wrapper, dead } = handlers()
    const rebalance = protocolError.createErrorFromCode(REBALANCE_IN_PROGRESS)
    const wrapped = wrapper.eachMessage(async ({ heartbeat }) => {
      await heartbeat().catch(() => {
        throw new Error('the application wrapped it')
      })
    })
    await expect(wrapped(messagePayload({ heartbeat: () => Promise.reject(rebalance) }))).rejects.toThrow(
      'the application wrapped it',
    )
    expect(dead).toEqual([])
  })

  it('a heartbeat failing during the backoff is thrown instead of the handler error', async () => {
    const { wrapper, dead } = handlers({ initialMs: 10 })
    const rebalance = protocolError.createErrorFromCode(REBALANCE_IN_PROGRESS)
    const wrapped = wrapper.eachMessage(async () => Promise.reject(new Error('app')))
    await expect(wrapped(messagePayload({ heartbeat: () => Promise.reject(rebalance) }))).rejects.toBe(rebalance)
    expect(dead).toEqual([])
  })

  it('a batch that went stale or a consumer no longer running', async () => {
    for (const overrides of [{ isStale: () => true }, { isRunning: () => false }]) {
      const { wrapper, dead } = handlers()
      const { payload } = batchPayload([0, 1], overrides)
      const error = new Error('app')
      await expect(wrapper.eachBatch(async () => Promise.reject(error), true)(payload)).rejects.toBe(error)
      expect(dead).toEqual([])
    }
  })

  it('a consumer stopped by the application', async () => {
    const { wrapper, dead, stopping } = handlers()
    stopping.abort()
    const error = new Error('app')
    await expect(wrapper.eachMessage(async () => Promise.reject(error))(messagePayload())).rejects.toBe(error)
    expect(dead).toEqual([])
  })
})

describe('eachMessage', () => {
  it('waits the backoff between tries, heartbeating every heartbeatInterval, then dead-letters with the attempt count', async () => {
    vi.useFakeTimers()
    const { wrapper, dead } = handlers({ attempts: 2, initialMs: 3_500 })
    const heartbeats: number[] = []
    const start = Date.now()
    const error = new Error('poison')
    const done = wrapper.eachMessage(async () => Promise.reject(error))(
      messagePayload({ heartbeat: async () => void heartbeats.push(Date.now() - start) }),
    )
    await vi.advanceTimersByTimeAsync(3_500)
    await done
    expect(heartbeats).toEqual([0, 1_000, 2_000, 3_000, 3_500])
    expect(dead).toEqual([{ groupId: 'g', topic: 't', partition: 0, message: message(5), error, attempts: 2 }])
  })

  it('with attempts 1 a failure is dead-lettered at once', async () => {
    const { wrapper, dead } = handlers({ attempts: 1 })
    let calls = 0
    await wrapper.eachMessage(async () => {
      calls++
      throw new Error('x')
    })(messagePayload())
    expect([calls, dead.map((d) => d.attempts)]).toEqual([1, [1]])
  })
})

describe('eachBatch', () => {
  it('a handler that resolved every record and then threw: no record to blame, the error goes on as in KafkaJS', async () => {
    const { wrapper, dead } = handlers()
    const { payload } = batchPayload([0, 1])
    const error = new Error('after the last record')
    const wrapped = wrapper.eachBatch(async ({ batch, resolveOffset }) => {
      for (const m of batch.messages) resolveOffset(m.offset)
      throw error
    }, false)
    await expect(wrapped(payload)).rejects.toBe(error)
    expect(dead).toEqual([])
  })

  it('a record that works alone is resolved (eachBatchAutoResolve) and the rest handed over; the dead-lettered one is resolved', async () => {
    const { wrapper, dead } = handlers({ attempts: 2 })
    const { payload, resolved } = batchPayload([10, 11, 12, 13])
    const seen: string[][] = []
    await wrapper.eachBatch(async ({ batch }) => {
      const offsets = batch.messages.map((m) => m.offset)
      seen.push(offsets)
      if (offsets.includes('12')) throw new Error('12 is bad')
    }, true)(payload)
    expect(seen).toEqual([
      ['10', '11', '12', '13'],
      ['10'],
      ['11', '12', '13'],
      ['11'],
      ['12', '13'],
      ['12'],
      ['12'],
      ['13'],
    ])
    // 13 alone is the rest, resolved as a batch of it; KafkaJS then resolves the whole batch's end.
    expect(resolved).toEqual(['10', '11', '12', '13'])
    expect(dead.map((d) => [d.message.offset, d.attempts])).toEqual([['12', 2]])
  })

  it('the backoff grows with every failed call on the record, the one of the whole batch included', async () => {
    vi.useFakeTimers()
    const { wrapper, dead } = handlers({ attempts: 2, initialMs: 100, multiplier: 2 })
    const { payload } = batchPayload([0, 1])
    const start = Date.now()
    const calls: Array<[number, number]> = []
    const done = wrapper.eachBatch(async ({ batch }) => {
      calls.push([Date.now() - start, batch.messages.length])
      if (batch.messages[0]!.offset === '0') throw new Error('0 is bad')
    }, true)(payload)
    await vi.advanceTimersByTimeAsync(300)
    await done
    // The whole batch, 0 alone after 100 ms, again after 200 more, dead-lettered; then 1, the rest.
    expect(calls).toEqual([
      [0, 2],
      [100, 1],
      [300, 1],
      [300, 1],
    ])
    expect(dead.map((d) => d.attempts)).toEqual([2])
  })

  it("the slices are KafkaJS batches: first offset, last offset (the batch's own at its end), lags", async () => {
    const { wrapper } = handlers({ attempts: 1 })
    const { payload } = batchPayload([0, 1, 2])
    const batch = payload.batch
    // Where the batch ends past its last message (a control record after it).
    Object.assign(batch, { highWatermark: '10', lastOffset: () => '4', offsetLag: () => '5', offsetLagLow: () => '9' })
    const slices: unknown[] = []
    await wrapper.eachBatch(async ({ batch: slice }) => {
      slices.push([
        slice.firstOffset(),
        slice.lastOffset(),
        slice.offsetLag(),
        slice.offsetLagLow(),
        slice.messages.length,
      ])
      if (slice.messages[0]!.offset === '1') throw new Error('1 is bad')
      if (slice === batch) throw new Error('fails once whole')
    }, true)(payload)
    expect(slices).toEqual([
      ['0', '4', '5', '9', 3],
      ['0', '0', '9', '9', 1],
      ['1', '4', '5', '8', 2],
      ['1', '1', '8', '8', 1],
      ['2', '4', '5', '7', 1],
    ])
  })
})

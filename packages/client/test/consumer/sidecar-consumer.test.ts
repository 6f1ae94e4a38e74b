/**
 * The sidecar consumer above the wire, against an in-memory transport playing the sidecar: the
 * runner's semantics (KafkaJS's processEachMessage / processEachBatch), retries and crashes,
 * concurrency, seek, revoke, a lost stream, pause, and KafkaJS's errors for misuse.
 */
import { waitFor } from '@kafka-sidecar/test-support'
import kafkajs from 'kafkajs'
import KafkaJSLong from 'kafkajs/src/utils/long.js'
import type { EachBatchPayload, InstrumentationEvent } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { runAssigned, sidecarConsumer } from './in-memory-transport.js'

const P0 = { topic: 't', partition: 0, assignmentId: 1 }
const P1 = { topic: 't', partition: 1, assignmentId: 2 }
const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ offset: from + i }))

function eventsOf(consumer: ReturnType<typeof sidecarConsumer>['consumer']) {
  const seen: Array<InstrumentationEvent<unknown>> = []
  for (const name of Object.values(consumer.events)) consumer.on(name as never, (e) => void seen.push(e))
  return seen
}

describe('eachMessage, as KafkaJS processEachMessage', () => {
  it('processes in order, says done with the next offset, auto-commits after the batch, emits KafkaJS events', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    const seen: string[] = []
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(consumer, transport, { eachMessage: async ({ message }) => void seen.push(message.offset) }, [P0])
    const batchId = transport.deliver(P0, records(3))
    const done = await transport.doneFor(batchId)
    expect(seen).toEqual(['0', '1', '2'])
    expect(done.processed).toEqual({ ...P0, nextOffset: 3 })
    expect(transport.of('commit').map((c) => c.value.offsets)).toEqual([[{ ...P0, nextOffset: 3 }]])
    await waitFor('the commit event', () => events.some((e) => e.type === 'consumer.commit_offsets'))
    expect(events.map((e) => e.type)).toEqual([
      'consumer.connect',
      'consumer.group_join',
      'consumer.fetch_start',
      'consumer.fetch',
      'consumer.start_batch_process',
      'consumer.end_batch_process',
      'consumer.commit_offsets',
    ])
    expect(events.find((e) => e.type === 'consumer.group_join')!.payload).toEqual({
      groupId: 'g',
      memberId: 'pod-member',
      leaderId: 'pod-member',
      isLeader: true,
      memberAssignment: { t: [0] },
      groupProtocol: 'RoundRobinAssigner',
      duration: 12,
    })
    await consumer.disconnect()
    expect(transport.of('leave')).toHaveLength(1)
  })

  it('a handler error commits what was resolved, retries from the failed message after the backoff, then goes on', async () => {
    const { consumer, transport } = sidecarConsumer()
    let calls = 0
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          calls++
          if (message.offset === '1' && calls === 2) throw new Error('boom')
        },
      },
      [P0],
    )
    const batchId = transport.deliver(P0, records(3))
    const done = await transport.doneFor(batchId)
    // Offset 0 was processed and committed before the error went to the retry.
    expect(done.processed!.nextOffset).toBe(1)
    expect(transport.of('commit')[0]!.value.offsets).toEqual([{ ...P0, nextOffset: 1 }])
    const again = transport.deliver(P0, records(2, 1))
    expect((await transport.doneFor(again)).processed!.nextOffset).toBe(3)
    expect(calls).toBe(4)
    await consumer.disconnect()
  })

  it('out of retries: STOP, DISCONNECT, then CRASH with KafkaJSNumberOfRetriesExceeded and restart decided by restartOnFailure', async () => {
    const asked: Error[] = []
    const { consumer, transport } = sidecarConsumer(
      {},
      { retries: 1, initialRetryTime: 5, restartOnFailure: async (e) => (asked.push(e), false) },
    )
    const events = eventsOf(consumer)
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async () => Promise.reject(new Error('always')) }, [P0])
    transport.deliver(P0, records(1))
    await waitFor('the failed batch to be said done', () => transport.of('done').length === 1)
    transport.deliver(P0, records(1))
    await waitFor('the crash', () => events.some((e) => e.type === 'consumer.crash'))
    const crash = events.find((e) => e.type === 'consumer.crash')!.payload as { error: Error; restart: boolean }
    expect(crash.error).toBeInstanceOf(kafkajs.KafkaJSNumberOfRetriesExceeded)
    expect(crash.restart).toBe(false)
    expect(asked).toEqual([crash.error])
    const tail = events.map((e) => e.type).slice(-3)
    expect(tail).toEqual(['consumer.stop', 'consumer.disconnect', 'consumer.crash'])
    expect(() => consumer.seek({ topic: 't', partition: 0, offset: '0' })).toThrow(
      'Consumer group was not initialized, consumer#run must be called first',
    )
  })

  it('stops at the next message once the partition is revoked, commits, and releases it; a rebalance emits REBALANCING', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          seen.push(message.offset)
          if (message.offset === '0') await gate
        },
      },
      [P0],
    )
    transport.deliver(P0, records(3))
    await waitFor('the first message', () => seen.length === 1)
    transport.listener!.revoke({ partitions: [P0], rebalance: true })
    expect(events.some((e) => e.type === 'consumer.rebalancing')).toBe(true)
    release()
    await waitFor('released', () => transport.of('released').length === 1)
    expect(seen).toEqual(['0'])
    expect(transport.of('commit').at(-1)!.value.offsets).toEqual([{ ...P0, nextOffset: 1 }])
    expect(transport.of('released')[0]!.value.partitions).toEqual([P0])
    expect(consumer.paused()).toEqual([])
    await consumer.disconnect()
  })

  it('a lost stream drops the partitions at once: the batch in hand stops, nothing of them is said or committed', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          seen.push(message.offset)
          await gate
        },
      },
      [P0],
    )
    transport.deliver(P0, records(3))
    await waitFor('the first message', () => seen.length === 1)
    transport.listener!.closed(new Error('gone'), true)
    release()
    await waitFor('the batch to end', () => events.some((e) => e.type === 'consumer.end_batch_process'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(seen).toEqual(['0'])
    // The ownership ended with its stream: neither its done nor a commit goes on the next stream.
    expect(transport.of('done')).toEqual([])
    expect(transport.of('commit')).toEqual([])
    await consumer.disconnect()
  })

  it('seek makes the batch in hand stale (it stops), commits the seek offset with autoCommit, and tells the sidecar', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          seen.push(message.offset)
          await gate
        },
      },
      [P0],
    )
    transport.deliver(P0, records(3))
    await waitFor('the first message', () => seen.length === 1)
    consumer.seek({ topic: 't', partition: 0, offset: '10' })
    release()
    await waitFor('the seek commit', () => transport.of('commit').length === 2)
    expect(seen).toEqual(['0'])
    expect(transport.of('seek')[0]!.value).toEqual({ topic: 't', partition: 0, offset: 10, assignmentId: 1 })
    expect(transport.of('commit').map((c) => c.value.offsets[0]!.nextOffset)).toEqual([1, 10])
    // KafkaJS commits a seek without a COMMIT_OFFSETS event.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(events.filter((e) => e.type === 'consumer.commit_offsets')).toHaveLength(1)
    await consumer.disconnect()
  })
})

describe('COMMIT_OFFSETS of offsets the application names', () => {
  it("lists them as KafkaJS does: commitOffsets' partition as given and offset as a Long, commitOffsetsIfNecessary(offsets)' as given", async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    await consumer.subscribe({ topic: 't' })
    let explicit: EachBatchPayload['commitOffsetsIfNecessary'] | null = null
    await runAssigned(
      consumer,
      transport,
      {
        eachBatchAutoResolve: false,
        eachBatch: async ({ commitOffsetsIfNecessary }) => void (explicit = commitOffsetsIfNecessary),
      },
      [P0],
    )
    await transport.doneFor(transport.deliver(P0, records(3)))
    await consumer.commitOffsets([{ topic: 't', partition: '0' as never, offset: '2' }])
    await explicit!({ topics: [{ topic: 't', partitions: [{ partition: 0, offset: '3' }] }] })
    const listed = events
      .filter((e) => e.type === 'consumer.commit_offsets')
      .map((e) => e.payload as { topics: unknown })
    const [first, second] = listed.map((p) => p.topics) as [
      Array<{ partitions: Array<{ partition: unknown; offset: unknown; metadata?: unknown }> }>,
      unknown,
    ]
    const [committed] = first[0]!.partitions
    expect(committed!.partition).toBe('0')
    expect(committed!.offset).toBeInstanceOf(KafkaJSLong)
    expect(String(committed!.offset)).toBe('2')
    expect(committed!.metadata).toBeNull()
    expect(second).toEqual([{ topic: 't', partitions: [{ partition: 0, offset: '3' }] }])
    await consumer.disconnect()
  })
})

describe('concurrency', () => {
  it('one batch per partition at a time, at most partitionsConsumedConcurrently partitions at once', async () => {
    const { consumer, transport } = sidecarConsumer()
    let active = 0
    let most = 0
    const P2 = { topic: 't', partition: 2, assignmentId: 3 }
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachMessage: async () => {
          active++
          most = Math.max(most, active)
          await new Promise((resolve) => setTimeout(resolve, 10))
          active--
        },
      },
      [P0, P1, P2],
    )
    const ids = [
      transport.deliver(P0, records(2)),
      transport.deliver(P1, records(2)),
      transport.deliver(P2, records(2)),
    ]
    for (const id of ids) await transport.doneFor(id)
    expect(most).toBe(2)
    await consumer.disconnect()
  })
})

describe('eachBatch, as KafkaJS processEachBatch', () => {
  it('resolving the last message resolves up to lastOffset (control records), and uncommittedOffsets shows it as KafkaJS does', async () => {
    const { consumer, transport } = sidecarConsumer()
    let payload!: EachBatchPayload
    let uncommitted: unknown
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachBatchAutoResolve: false,
        autoCommit: false,
        eachBatch: async (p) => {
          payload = p
          for (const m of p.batch.messages) p.resolveOffset(m.offset)
          uncommitted = p.uncommittedOffsets()
        },
      },
      [P0],
    )
    const id = transport.deliver(P0, records(2), { lastOffset: 4, highWatermark: 6 })
    expect((await transport.doneFor(id)).processed!.nextOffset).toBe(5)
    expect(uncommitted).toEqual({ topics: [{ topic: 't', partitions: [{ partition: '0', offset: '5' }] }] })
    expect(Object.keys(payload)).toEqual([
      'batch',
      'resolveOffset',
      'heartbeat',
      'pause',
      'commitOffsetsIfNecessary',
      'uncommittedOffsets',
      'isRunning',
      'isStale',
    ])
    expect([payload.batch.firstOffset(), payload.batch.lastOffset(), payload.batch.offsetLag()]).toEqual([
      '0',
      '4',
      '1',
    ])
    expect(payload.batch.offsetLagLow()).toBe('5')
    expect(transport.of('commit')).toEqual([])
    await consumer.commitOffsets([{ topic: 't', partition: 0, offset: '5' }])
    expect(transport.of('commit')[0]!.value.offsets).toEqual([{ ...P0, nextOffset: 5 }])
    await consumer.disconnect()
  })

  it('a batch with every record filtered out is resolved to its last offset without calling the handler', async () => {
    const { consumer, transport } = sidecarConsumer()
    let calls = 0
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachBatch: async () => void calls++ }, [P0])
    const id = transport.deliver(P0, [], { lastOffset: 7, highWatermark: 8 })
    expect((await transport.doneFor(id)).processed!.nextOffset).toBe(8)
    expect(calls).toBe(0)
    await consumer.disconnect()
  })
})

describe('pause, resume, paused', () => {
  it('pause() from eachMessage stops the batch after the message; paused() lists assigned paused partitions; the sidecar is told', async () => {
    const { consumer, transport } = sidecarConsumer()
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message, pause }) => {
          seen.push(message.offset)
          pause()
        },
      },
      [P0, P1],
    )
    const id = transport.deliver(P0, records(3))
    expect((await transport.doneFor(id)).processed!.nextOffset).toBe(1)
    expect(seen).toEqual(['0'])
    expect(consumer.paused()).toEqual([{ topic: 't', partitions: [0] }])
    consumer.pause([{ topic: 't' }])
    consumer.resume([{ topic: 't', partitions: [0] }])
    expect(consumer.paused()).toEqual([{ topic: 't', partitions: [1] }])
    expect(transport.of('pause').map((p) => p.value.topics)).toEqual([
      [{ topic: 't', partitions: [0] }],
      [{ topic: 't', partitions: [] }],
    ])
    expect(transport.of('resume').map((p) => p.value.topics)).toEqual([[{ topic: 't', partitions: [0] }]])
    await consumer.disconnect()
  })
})

describe('a batch of a paused partition', () => {
  it('is handed back unprocessed when the sidecar delivered it before hearing the pause (after a rejoin)', async () => {
    const { consumer, transport } = sidecarConsumer()
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async ({ message }) => void seen.push(message.offset) }, [P0])
    consumer.pause([{ topic: 't', partitions: [0] }])
    // The stream is lost and joined again: the pause is re-sent at `joined`, but a batch was already under way.
    transport.listener!.closed(new Error('lost'), true)
    transport.assign([{ ...P0, assignmentId: 7 }])
    expect(transport.of('pause')).toHaveLength(2)
    const id = transport.deliver({ ...P0, assignmentId: 7 }, records(3, 5))
    expect((await transport.doneFor(id)).processed!.nextOffset).toBe(5)
    expect(seen).toEqual([])
    consumer.resume([{ topic: 't', partitions: [0] }])
    const next = transport.deliver({ ...P0, assignmentId: 7 }, records(3, 5))
    await transport.doneFor(next)
    expect(seen).toEqual(['5', '6', '7'])
    await consumer.disconnect()
  })
})

describe("misuse, with KafkaJS's errors", () => {
  it.each([
    [
      'seek before run',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.seek({ topic: 't', partition: 0, offset: '1' }),
      'Consumer group was not initialized, consumer#run must be called first',
    ],
    [
      'pause before run',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.pause([{ topic: 't' }]),
      'Consumer group was not initialized, consumer#run must be called first',
    ],
    [
      'seek with a negative offset',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.seek({ topic: 't', partition: 0, offset: '-3' }),
      'Offset must not be a negative number',
    ],
    [
      'seek with a bad offset',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.seek({ topic: 't', partition: 0, offset: 'x' }),
      'Invalid offset, expected a long received x',
    ],
    [
      'seek without topic',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.seek({ topic: '', partition: 0, offset: '1' }),
      'Invalid topic ',
    ],
    [
      'pause with bad partitions',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.pause([{ topic: 't', partitions: 'x' as never }]),
      'Array of valid partitions required to pause specific partitions instead of x',
    ],
    [
      'on with an unknown event',
      (c: ReturnType<typeof sidecarConsumer>['consumer']) => c.on('nope' as never, () => {}),
      /^Event name should be one of consumer.events.HEARTBEAT, /,
    ],
  ])('%s', (_name, call, message) => {
    const { consumer } = sidecarConsumer()
    const kafkajsConsumer = new kafkajs.Kafka({
      brokers: ['127.0.0.1:9'],
      logLevel: kafkajs.logLevel.NOTHING,
    }).consumer({ groupId: 'g' })
    let ours: unknown
    let theirs: unknown
    try {
      call(consumer)
    } catch (error) {
      ours = error
    }
    try {
      call(kafkajsConsumer as never)
    } catch (error) {
      theirs = error
    }
    expect(ours).toBeInstanceOf(kafkajs.KafkaJSNonRetriableError)
    expect((ours as Error).message).toMatch(message)
    expect((ours as Error).message).toBe((theirs as Error).message)
  })

  it('subscribe while running fails; run twice only warns; subscribe needs topics', async () => {
    const { consumer, transport } = sidecarConsumer()
    await expect(consumer.subscribe({} as never)).rejects.toThrow('Missing required argument "topics"')
    await consumer.subscribe({ topics: ['t', /^t-.*/i], fromBeginning: true })
    await runAssigned(consumer, transport, { eachMessage: async () => {} }, [P0])
    expect(transport.of('join')[0]!.value.subscriptions).toEqual([
      { topicOrPattern: { $case: 'topic', value: 't' }, fromBeginning: true },
      { topicOrPattern: { $case: 'pattern', value: { source: '^t-.*', flags: 'i' } }, fromBeginning: true },
    ])
    await expect(consumer.subscribe({ topic: 'u' })).rejects.toThrow(
      'Cannot subscribe to topic while consumer is running',
    )
    await consumer.run({ eachMessage: async () => {} })
    expect(transport.of('join')).toHaveLength(1)
    await consumer.disconnect()
  })

  it('shows exactly the keys a KafkaJS consumer object has', () => {
    const { consumer } = sidecarConsumer()
    const kafkajsConsumer = new kafkajs.Kafka({ brokers: ['127.0.0.1:9'] }).consumer({ groupId: 'g' })
    expect(Object.keys(consumer).sort()).toEqual(Object.keys(kafkajsConsumer).sort())
  })
})

/**
 * The client's own logic where ownerships meet (the consumer review's H1, H3, H4, L4, M1, M4, M2),
 * against the in-memory transport playing the sidecar: revoked and lost ownerships, commits the
 * sidecar refuses, a partition given back while its old batch is still in its handler, seeks of
 * partitions not owned, and what `alive` proves.
 */
import { waitFor } from '@kafka-sidecar/test-support'
import type { EachBatchPayload, InstrumentationEvent } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { runAssigned, sidecarConsumer } from './in-memory-transport.js'

const P0 = { topic: 't', partition: 0, assignmentId: 1 }
const P1 = { topic: 't', partition: 1, assignmentId: 2 }
const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ offset: from + i }))
const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms))

function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { open, opened }
}

function eventsOf(consumer: ReturnType<typeof sidecarConsumer>['consumer']) {
  const seen: Array<InstrumentationEvent<unknown>> = []
  for (const name of Object.values(consumer.events)) consumer.on(name as never, (e) => void seen.push(e))
  return seen
}

describe('commits and revoked or lost ownerships (H1)', () => {
  it("a revoked partition's offsets are never in another partition's commit; its last commit goes alone", async () => {
    const { consumer, transport } = sidecarConsumer()
    const held = gate()
    let p0At = ''
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachMessage: async ({ partition, message }) => {
          if (partition === 0) p0At = message.offset
          if (partition === 0 && message.offset === '1') await held.opened
        },
      },
      [P0, P1],
    )
    transport.deliver(P0, records(3))
    await waitFor('p0 at its second message', () => p0At === '1')
    transport.listener!.revoke({ partitions: [P0], rebalance: false })
    const p1 = transport.deliver(P1, records(2))
    await transport.doneFor(p1)
    await waitFor('the commit of p1', () => transport.of('commit').length === 1)
    expect(transport.of('commit')[0]!.value.offsets).toEqual([{ ...P1, nextOffset: 2 }])
    held.open()
    await waitFor('released', () => transport.of('released').length === 1)
    expect(transport.of('commit')[1]!.value.offsets).toEqual([{ ...P0, nextOffset: 2 }])
    await consumer.disconnect()
  })

  it('a commit refused with ILLEGAL_GENERATION ends the attempt and goes on, as KafkaJS rejoins: never CRASH', async () => {
    const { consumer, transport } = sidecarConsumer({}, { retries: 0, initialRetryTime: 10 })
    const events = eventsOf(consumer)
    const seen: string[] = []
    transport.autoAnswerCommits = false
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async ({ message }) => void seen.push(message.offset) }, [P0])
    const first = transport.deliver(P0, records(2))
    await waitFor('the commit', () => transport.of('commit').length === 1)
    transport.listener!.commitResult({
      requestId: transport.of('commit')[0]!.value.requestId,
      committed: [],
      refused: [],
      error: {
        grpcCode: 9,
        message: 'not owned: t[0] (assignment 1)',
        kafkaErrorCode: 22,
        kafkaErrorName: 'ILLEGAL_GENERATION',
        retriable: false,
        retryAfterMs: 0,
      },
    })
    expect((await transport.doneFor(first)).processed!.nextOffset).toBe(2)
    transport.autoAnswerCommits = true
    const second = transport.deliver(P0, records(2, 2))
    await transport.doneFor(second)
    expect(seen).toEqual(['0', '1', '2', '3'])
    expect(events.filter((e) => e.type === 'consumer.crash')).toEqual([])
    await consumer.disconnect()
  })

  it('a commit whose result names refused partitions: those are lost (their batch stops), the rest is committed, no CRASH', async () => {
    const { consumer, transport } = sidecarConsumer({}, { retries: 0, initialRetryTime: 10 })
    const events = eventsOf(consumer)
    const seen: string[] = []
    const held = gate()
    transport.autoAnswerCommits = false
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, isStale }) => {
          for (const m of batch.messages) {
            if (isStale()) return
            seen.push(`${batch.partition}@${m.offset}`)
            resolveOffset(m.offset)
            if (batch.partition === 1 && m.offset === '0') {
              const offsets = { topics: [{ topic: 't', partitions: [{ partition: 1, offset: '1' }] }] }
              await commitOffsetsIfNecessary(offsets).catch(() => {})
              await held.opened
            }
          }
        },
      },
      [P0, P1],
    )
    const p0 = transport.deliver(P0, records(2))
    await waitFor('the first commit (p0)', () => transport.of('commit').length === 1)
    transport.listener!.commitResult({
      requestId: transport.of('commit')[0]!.value.requestId,
      committed: [],
      refused: [],
    })
    await transport.doneFor(p0)
    transport.deliver(P1, records(3))
    await waitFor('the commit from p1', () => transport.of('commit').length === 2)
    const request = transport.of('commit')[1]!.value
    expect(request.offsets).toEqual([{ ...P1, nextOffset: 1 }])
    transport.listener!.commitResult({
      requestId: request.requestId,
      committed: [],
      refused: [{ ...P1, nextOffset: 1 }],
    })
    await tick()
    held.open()
    await tick(50)
    // p1 is lost: its batch stopped (isStale), nothing more of it is processed or committed.
    expect(seen).toEqual(['0@0', '0@1', '1@0'])
    transport.autoAnswerCommits = true
    const next = transport.deliver(P1, records(1, 3))
    await tick(50)
    expect(transport.of('done').some((d) => d.value.batchId === next)).toBe(false)
    expect(events.filter((e) => e.type === 'consumer.crash')).toEqual([])
    await consumer.disconnect()
  })
})

describe('one batch per topic-partition in handlers, whichever ownership (H3)', () => {
  it("a partition given back after a lost stream waits until the old ownership's batch left its handler", async () => {
    const { consumer, transport } = sidecarConsumer()
    const held = gate()
    const inHandler = new Set<string>()
    const overlaps: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachMessage: async ({ partition, message }) => {
          const key = `p${partition}`
          if (inHandler.has(key)) overlaps.push(`${key}@${message.offset}`)
          inHandler.add(key)
          if (message.offset === '0') await held.opened
          inHandler.delete(key)
        },
      },
      [P0],
    )
    transport.deliver(P0, records(1))
    await waitFor('p0 in its handler', () => inHandler.has('p0'))
    transport.listener!.closed(new Error('lost'), true)
    const again = { ...P0, assignmentId: 7 }
    transport.assign([again])
    const next = transport.deliver(again, records(2, 5))
    await tick(50)
    expect(transport.of('done')).toEqual([])
    held.open()
    expect((await transport.doneFor(next)).processed!.nextOffset).toBe(7)
    expect(overlaps).toEqual([])
    await consumer.disconnect()
  })
})

describe('reports of an ownership of a lost stream (H4)', () => {
  it('are dropped, never written on the new stream: no done, released or commit with the old id', async () => {
    const { consumer, transport } = sidecarConsumer()
    const held = gate()
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachMessage: async ({ partition }) => {
          if (partition === 0) await held.opened
        },
      },
      [P0, P1],
    )
    transport.deliver(P0, records(2))
    await tick()
    transport.listener!.revoke({ partitions: [P0], rebalance: false })
    transport.listener!.closed(new Error('lost'), true)
    transport.assign([{ ...P1, assignmentId: 9 }])
    held.open()
    await tick(50)
    const named = transport.sent
      .flatMap((s) => {
        if (s.kind === 'done') return [s.value.processed!]
        if (s.kind === 'released') return s.value.partitions
        if (s.kind === 'commit') return s.value.offsets
        return []
      })
      .map((p) => p.assignmentId)
    expect(named).not.toContain(P0.assignmentId)
    await consumer.disconnect()
  })
})

describe('GROUP_JOIN lists what is owned now (L4, M1)', () => {
  it('an assignment still listing a revoked partition whose batch is not over makes no phantom ownership', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    const held = gate()
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async () => {
          await held.opened
        },
      },
      [P0],
    )
    transport.deliver(P0, records(2))
    await tick()
    transport.listener!.revoke({ partitions: [P0], rebalance: true })
    // The sidecar's member rejoined; P0 is still this process's until released, so it is listed.
    transport.assign([P0, P1], { afterRebalance: true })
    const joins = events.filter((e) => e.type === 'consumer.group_join')
    expect((joins.at(-1)!.payload as { memberAssignment: unknown }).memberAssignment).toEqual({ t: [1] })
    held.open()
    await waitFor('released', () => transport.of('released').length === 1)
    // A batch of the revoked ownership is not taken as this process's.
    const stray = transport.deliver(P0, records(1, 2))
    await tick(50)
    expect(transport.of('done').some((d) => d.value.batchId === stray)).toBe(false)
    await consumer.disconnect()
  })

  it('an empty assignment resolves run() and emits GROUP_JOIN with memberAssignment {}, as KafkaJS', async () => {
    const { consumer, transport } = sidecarConsumer()
    const events = eventsOf(consumer)
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async () => {} }, [])
    const join = events.find((e) => e.type === 'consumer.group_join')!
    expect((join.payload as { memberAssignment: unknown }).memberAssignment).toEqual({})
    await consumer.disconnect()
  })
})

describe('seek (M4)', () => {
  it('of a partition not owned is kept, sent once it is given; a batch sent before the sidecar heard it goes back', async () => {
    const { consumer, transport } = sidecarConsumer()
    const seen: string[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async ({ message }) => void seen.push(message.offset) }, [P0])
    consumer.seek({ topic: 't', partition: 1, offset: '20' })
    expect(transport.of('seek')).toEqual([])
    transport.assign([P0, P1])
    expect(transport.of('seek').map((s) => s.value)).toEqual([
      { topic: 't', partition: 1, offset: 20, assignmentId: 2 },
    ])
    // With auto-commit the seek offset is committed, as KafkaJS's offsetManager.seek does.
    await waitFor('the seek commit', () => transport.of('commit').length === 1)
    expect(transport.of('commit')[0]!.value.offsets).toEqual([{ ...P1, nextOffset: 20 }])
    const before = transport.deliver(P1, records(2, 3))
    expect((await transport.doneFor(before)).processed!.nextOffset).toBe(3)
    const after = transport.deliver(P1, records(2, 20))
    expect((await transport.doneFor(after)).processed!.nextOffset).toBe(22)
    expect(seen).toEqual(['20', '21'])
    await consumer.disconnect()
  })

  it('of an owned partition makes the eachBatch in hand stale, as KafkaJS', async () => {
    const { consumer, transport } = sidecarConsumer()
    const held = gate()
    let payload!: EachBatchPayload
    const stale: boolean[] = []
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        eachBatch: async (p) => {
          payload = p
          stale.push(p.isStale())
          await held.opened
          stale.push(p.isStale())
        },
      },
      [P0],
    )
    transport.deliver(P0, records(2))
    await waitFor('the batch in hand', () => payload !== undefined)
    consumer.seek({ topic: 't', partition: 0, offset: '0' })
    held.open()
    await waitFor('two looks', () => stale.length === 2)
    expect(stale).toEqual([false, true])
    await consumer.disconnect()
  })
})

describe('liveness (M2)', () => {
  it('the join asks for the consumer sessionTimeout as process timeout unless processTimeoutMs is set', async () => {
    const { consumer, transport } = sidecarConsumer({ sessionTimeout: 12_345 }, undefined, { processTimeoutMs: 0 })
    await consumer.subscribe({ topic: 't' })
    await runAssigned(consumer, transport, { eachMessage: async () => {} }, [P0])
    expect(transport.of('join')[0]!.value.processTimeoutMs).toBe(12_345)
    await consumer.disconnect()
  })

  it("lastProgress: none while idle; a hung handler's stays put; heartbeat() and finished messages move it", async () => {
    const { consumer, transport } = sidecarConsumer()
    const hung = gate()
    const beat = gate()
    await consumer.subscribe({ topic: 't' })
    await runAssigned(
      consumer,
      transport,
      {
        partitionsConsumedConcurrently: 2,
        eachMessage: async ({ partition, heartbeat }) => {
          if (partition === 0) await hung.opened
          else {
            await beat.opened
            await heartbeat()
          }
        },
      },
      [P0, P1],
    )
    expect(transport.listener!.lastProgress()).toBeNull()
    transport.deliver(P0, records(1))
    await tick()
    const stuckSince = transport.listener!.lastProgress()!
    await tick(60)
    expect(transport.listener!.lastProgress()).toBe(stuckSince)
    transport.deliver(P1, records(1))
    await tick()
    const p1Started = transport.listener!.lastProgress()!
    expect(p1Started).toBeGreaterThan(stuckSince)
    await tick(30)
    beat.open()
    await tick()
    expect(transport.listener!.lastProgress()!).toBeGreaterThan(p1Started)
    hung.open()
    await waitFor('idle', () => transport.listener!.lastProgress() === null)
    await consumer.disconnect()
  })
})

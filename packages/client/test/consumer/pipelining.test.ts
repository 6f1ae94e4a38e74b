/**
 * The client's side of pipelining and of auto-commits in the background, against an in-memory
 * transport playing a sidecar that pipelines: batches of a partition still run one at a time, a
 * short `done` or a seek makes the batches already here stale (dropped without `done`, as the
 * sidecar took them back), and the next batch does not wait for the auto-commit's answer.
 */
import { waitFor } from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { runAssigned, sidecarConsumer } from './in-memory-transport.js'

const P0 = { topic: 't', partition: 0, assignmentId: 1 }
const records = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ offset: from + i }))

function pipelined(retry = { retries: 2, initialRetryTime: 10 }) {
  const made = sidecarConsumer({}, retry)
  made.transport.pipeline = 2
  return made
}

describe('pipelined batches', () => {
  it('asks for two batches per partition; runs them one at a time, in order', async () => {
    const { consumer, transport } = pipelined()
    const seen: string[] = []
    let inHandler = 0
    let most = 0
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          most = Math.max(most, ++inHandler)
          await new Promise((resolve) => setTimeout(resolve, 5))
          seen.push(message.offset)
          inHandler--
        },
      },
      [P0],
    )
    expect(transport.of('join')[0]!.value.maxBatchesPerPartition).toBe(2)
    const first = transport.deliver(P0, records(3))
    const second = transport.deliver(P0, records(3, 3), { lastOffset: 5 })
    await transport.doneFor(second)
    expect(seen).toEqual(['0', '1', '2', '3', '4', '5'])
    expect(most).toBe(1)
    expect(transport.of('done').map((d) => d.value.batchId)).toEqual([first, second])
    await consumer.disconnect()
  })

  it('a failed batch says done short of its end after the backoff; the batch behind it is dropped, the rewound one runs', async () => {
    const { consumer, transport } = pipelined()
    const seen: string[] = []
    let failed = false
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          if (message.offset === '1' && !failed) {
            failed = true
            throw new Error('once')
          }
          seen.push(message.offset)
        },
      },
      [P0],
    )
    const first = transport.deliver(P0, records(3))
    const stale = transport.deliver(P0, records(3, 3))
    const done = await transport.doneFor(first)
    expect(done.processed!.nextOffset).toBe(1)
    // The sidecar took `stale` back with that done; it sends 1.. again, with one rewind.
    const again = transport.deliver(P0, records(5, 1), { rewinds: 1 })
    await transport.doneFor(again)
    expect(seen).toEqual(['0', '1', '2', '3', '4', '5'])
    expect(transport.of('done').map((d) => d.value.batchId)).toEqual([first, again])
    expect(transport.of('done').some((d) => d.value.batchId === stale)).toBe(false)
    // A batch sent before the sidecar heard the rewind, arriving late: dropped too.
    const late = transport.deliver(P0, records(1, 6))
    const next = transport.deliver(P0, records(1, 6), { rewinds: 1 })
    await transport.doneFor(next)
    expect(transport.of('done').some((d) => d.value.batchId === late)).toBe(false)
    await consumer.disconnect()
  })

  it('a seek names the ownership; the batch in hand and those behind it get no done', async () => {
    const { consumer, transport } = pipelined()
    const seen: string[] = []
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(
      consumer,
      transport,
      {
        eachMessage: async ({ message }) => {
          seen.push(message.offset)
          if (message.offset === '0') await held
        },
      },
      [P0],
    )
    const inHand = transport.deliver(P0, records(3))
    const behind = transport.deliver(P0, records(3, 3))
    await waitFor('the first message in its handler', () => seen.length === 1)
    consumer.seek({ topic: 't', partition: 0, offset: '10' })
    expect(transport.of('seek').map((s) => s.value)).toEqual([
      { topic: 't', partition: 0, offset: 10, assignmentId: 1 },
    ])
    release()
    const fromSeek = transport.deliver(P0, records(2, 10), { rewinds: 1 })
    await transport.doneFor(fromSeek)
    expect(seen).toEqual(['0', '10', '11'])
    expect(transport.of('done').map((d) => d.value.batchId)).toEqual([fromSeek])
    expect([inHand, behind].some((id) => transport.of('done').some((d) => d.value.batchId === id))).toBe(false)
    await consumer.disconnect()
  })
})

describe('auto-commits in the background', () => {
  it('the next batch starts before the commit is answered; one commit in flight, the next with what came since', async () => {
    const { consumer, transport } = pipelined()
    transport.autoAnswerCommits = false
    const seen: string[] = []
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(consumer, transport, { eachMessage: async ({ message }) => void seen.push(message.offset) }, [P0])
    transport.deliver(P0, records(2))
    const second = transport.deliver(P0, records(2, 2))
    await transport.doneFor(second)
    expect(seen).toEqual(['0', '1', '2', '3'])
    expect(transport.of('commit').map((c) => c.value.offsets[0]!.nextOffset)).toEqual([2])
    const [commit] = transport.of('commit')
    transport.listener!.commitResult({
      requestId: commit!.value.requestId,
      committed: commit!.value.offsets,
      refused: [],
    })
    await waitFor('the next commit', () => transport.of('commit').length === 2)
    expect(transport.of('commit')[1]!.value.offsets[0]!.nextOffset).toBe(4)
    // stop() waits for the commit in flight before it leaves.
    const stopping = consumer.disconnect()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(transport.of('leave')).toHaveLength(0)
    const last = transport.of('commit')[1]!
    transport.listener!.commitResult({ requestId: last.value.requestId, committed: last.value.offsets, refused: [] })
    await stopping
    expect(transport.of('leave')).toHaveLength(1)
  })

  it('a background commit refused as not owned ends that ownership and the attempt, no CRASH', async () => {
    const { consumer, transport } = pipelined()
    transport.autoAnswerCommits = false
    const crashes: unknown[] = []
    consumer.on(consumer.events.CRASH, (e) => void crashes.push(e))
    await consumer.subscribe({ topics: ['t'] })
    await runAssigned(consumer, transport, { eachMessage: async () => {} }, [P0])
    const first = transport.deliver(P0, records(2))
    await transport.doneFor(first)
    await waitFor('the commit', () => transport.of('commit').length === 1)
    const [commit] = transport.of('commit')
    transport.listener!.commitResult({
      requestId: commit!.value.requestId,
      committed: [],
      refused: commit!.value.offsets,
    })
    // The ownership is gone: a batch of it is ignored.
    const after = transport.deliver(P0, records(1, 2))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(transport.of('done').some((d) => d.value.batchId === after)).toBe(false)
    expect(crashes).toEqual([])
    await consumer.disconnect()
  })
})

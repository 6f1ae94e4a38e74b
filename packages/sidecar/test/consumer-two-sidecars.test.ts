import {
  connectedAdmin,
  connectedProducer,
  kafkaFor,
  randomTopic,
  startCluster,
  startTestSidecar,
  waitFor,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { committedOffsets, consumerClient, joinRequest, TestConsumer } from './consumer-helpers.js'

describe('Consume: two pods (two sidecars) in one group', () => {
  it('splits the partitions between the sidecars through a real Kafka rebalance; every record processed, duplicates only of cut-off batches', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('pods')
    await cluster.createTopic({ topic, partitions: 4 })
    const groupId = randomTopic('group')
    const producer = await connectedProducer(kafkaFor(cluster))
    const send = (from: number, count: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: count }, (_, i) => ({ partition: (from + i) % 4, value: `v${from + i}` })),
      })
    const first = await startTestSidecar(cluster)
    const a = TestConsumer.join(consumerClient(first), joinRequest(groupId, [topic]))
    await waitFor('a owns all 4', () => a.partitions().length === 4, 20_000)
    await send(0, 200)
    await waitFor('a read 200', () => a.consumed.length >= 200, 20_000)

    const second = await startTestSidecar(cluster)
    const b = TestConsumer.join(consumerClient(second), joinRequest(groupId, [topic]))
    await waitFor(
      '2 and 2 after the Kafka rebalance',
      () => a.partitions().length === 2 && b.partitions().length === 2,
      30_000,
    )
    await send(200, 200)
    await waitFor(
      '400 distinct values read',
      () => new Set([...a.consumed, ...b.consumed].map((c) => c.value)).size === 400,
      20_000,
    )

    const aParts = a.partitions()
    expect(b.partitions().filter((p) => aParts.includes(p))).toEqual([])
    const all = [...a.consumed, ...b.consumed]
    // a had processed and committed everything before the rebalance: no batch was cut off, so no duplicate.
    expect(all.length).toBe(400)
    expect(a.redelivered + b.redelivered).toBe(0)
    expect(a.events$('revoke').some((r) => r.rebalance)).toBe(true)
    expect(b.events$('assigned').at(-1)).toMatchObject({ afterRebalance: true, memberId: expect.any(String) })
    const describeMembers = await new Promise<number>((resolve, reject) =>
      consumerClient(first).describeGroup({ groupId }, (e, r) => (e ? reject(e) : resolve(r.members.length))),
    )
    expect(describeMembers).toBe(2)
    const admin = await connectedAdmin(kafkaFor(cluster))
    await waitFor('every partition committed to its end', async () => {
      const offsets = await committedOffsets(admin, groupId, topic)
      return [0, 1, 2, 3].every((p) => offsets.get(p) === 100)
    })
  })

  it('a Kafka rebalance while batches are half processed: the kept partitions continue after what was processed, moved ones repeat only what was cut off', async () => {
    const cluster = await startCluster()
    const topic = randomTopic('cut')
    await cluster.createTopic({ topic, partitions: 4 })
    const groupId = randomTopic('group')
    const producer = await connectedProducer(kafkaFor(cluster))
    await producer.send({
      topic,
      messages: [0, 1, 2, 3].flatMap((p) =>
        Array.from({ length: 10 }, (_, i) => ({ partition: p, value: `p${p}-${i}` })),
      ),
    })
    const first = await startTestSidecar(cluster)
    const a = TestConsumer.join(consumerClient(first), joinRequest(groupId, [topic]), { hold: true })
    await waitFor('a holds a batch of each partition', () => a.held.length === 4, 20_000)
    const second = await startTestSidecar(cluster)
    const b = TestConsumer.join(consumerClient(second), joinRequest(groupId, [topic]))
    await waitFor('the rebalance revokes from a', () => a.events$('revoke').some((r) => r.rebalance), 20_000)
    // a finishes half of each batch (processed, done, commit, released), as a client does on revoke.
    a.finish(5)
    await waitFor('2 and 2', () => a.partitions().length === 2 && b.partitions().length === 2, 30_000)
    await waitFor(
      'every record read',
      async () => {
        a.finish()
        return new Set([...a.consumed, ...b.consumed].map((c) => c.value)).size === 40
      },
      20_000,
    )
    const kept = a.partitions().map((k) => Number(k.split('|')[1]))
    const count = (value: string) => [...a.consumed, ...b.consumed].filter((c) => c.value === value).length
    for (let p = 0; p < 4; p++)
      for (let i = 0; i < 10; i++) {
        // A kept partition goes on after its processed offset; a moved one is read by b from the
        // committed offset, which a's commit during the rebalance may not have reached.
        if (kept.includes(p) || i >= 5) expect(count(`p${p}-${i}`), `p${p}-${i}`).toBe(1)
        else expect(count(`p${p}-${i}`)).toBeLessThanOrEqual(2)
      }
    // a's kept partitions came back to it as new ownerships: their unprocessed half is redelivered, counted.
    expect(a.redelivered).toBe(10)
  })
})

/** A request's acks reach the brokers: batches are formed per acks setting. */
import { randomUUID } from 'node:crypto'
import { Acks } from '@kafka-sidecar/proto'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'
import { collectReports } from './stream-helpers.js'

describe('acks', () => {
  it('ACKS_NONE: written without waiting for an answer, reported with no offset; other acks keep theirs', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const instanceId = `instance-${randomUUID()}`
    const reports = collectReports(client, instanceId)
    // Interleaved acks settings on one partition: three batches, in order.
    const none = emitRequest(topic, [{ value: bytes('none-1') }, { value: bytes('none-2') }], {
      acks: Acks.ACKS_NONE,
      instanceId,
    })
    const leader = emitRequest(topic, [{ value: bytes('leader') }], { acks: Acks.ACKS_LEADER, instanceId })
    const all = emitRequest(topic, [{ value: bytes('all') }], { acks: Acks.ACKS_ALL, instanceId })
    const [noneAck, leaderAck, allAck] = await Promise.all([
      emit(client, none),
      emit(client, leader),
      emit(client, all),
    ])
    expect(noneAck.received).toBe(true)
    expect(noneAck.results).toEqual([])
    expect(leaderAck.results.map((r) => [r.partition, r.baseOffset])).toEqual([[0, 2]])
    expect(allAck.results.map((r) => [r.partition, r.baseOffset])).toEqual([[0, 3]])
    await waitFor('three reports', () => reports.events.length === 3)
    const noneReport = reports.events
      .map((e) => (e.event?.$case === 'report' ? e.event.value : null))
      .find((r) => r?.requestId === none.requestId)
    expect(noneReport?.result?.baseOffset).toBe(-1)
    expect(noneReport?.result?.error).toBeUndefined()
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual([
      'none-1',
      'none-2',
      'leader',
      'all',
    ])
  })
})

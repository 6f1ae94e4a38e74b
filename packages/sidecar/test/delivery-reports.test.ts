import { randomUUID } from 'node:crypto'
import type { DeliveryReport } from '@kafka-sidecar/proto'
import { describe, expect, it } from 'vitest'
import { randomTopic, startCluster, startTestSidecar, waitFor } from '@kafka-sidecar/test-support'
import { bytes, emit, emitRequest, sidecarClient } from './helpers.js'
import { collectReports } from './stream-helpers.js'

const reportsOf = (events: ReturnType<typeof collectReports>['events']): DeliveryReport[] =>
  events.flatMap((e) => (e.event?.$case === 'report' ? [e.event.value] : []))

describe('DeliveryReports', () => {
  it('streams a report per request and partition with offsets, live and in sequence', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const instanceId = `instance-${randomUUID()}`
    const stream = collectReports(client, instanceId)
    const request = emitRequest(
      topic,
      [
        { value: bytes('a'), partition: 0 },
        { value: bytes('b'), partition: 1 },
        { value: bytes('c'), partition: 0 },
      ],
      { instanceId },
    )
    await emit(client, request)
    await waitFor('two reports', () => stream.events.length === 2)
    const reports = reportsOf(stream.events)
    expect(reports.map((r) => r.sequence)).toEqual([1, 2])
    expect(
      reports.map((r) => [r.requestId, r.result!.partition, r.result!.baseOffset, r.result!.recordIndexes]).sort(),
    ).toEqual(
      [
        [request.requestId, 0, 0, [0, 2]],
        [request.requestId, 1, 0, [1]],
      ].sort(),
    )
  })

  it('resumes after the last seen sequence when a stream is dropped, without repeats or losses', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const instanceId = `instance-${randomUUID()}`
    const first = collectReports(client, instanceId)
    for (let i = 0; i < 5; i++) await emit(client, emitRequest(topic, [{ value: bytes(`r${i}`) }], { instanceId }))
    await waitFor('5 reports', () => first.events.length === 5)
    first.cancel()
    const lastSeen = reportsOf(first.events).at(-1)!.sequence

    // Reports produced while nobody listens stay in the ring.
    for (let i = 5; i < 12; i++) await emit(client, emitRequest(topic, [{ value: bytes(`r${i}`) }], { instanceId }))
    const resumed = collectReports(client, instanceId, lastSeen)
    await waitFor('7 resumed reports', () => resumed.events.length === 7)
    await emit(client, emitRequest(topic, [{ value: bytes('live') }], { instanceId }))
    await waitFor('one live report', () => resumed.events.length === 8)
    expect(reportsOf(resumed.events).map((r) => r.sequence)).toEqual([6, 7, 8, 9, 10, 11, 12, 13])
    expect(resumed.events.every((e) => e.event?.$case === 'report')).toBe(true)
  })

  it('announces reports lost to ring overflow as an explicit gap', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    const sidecar = await startTestSidecar(cluster, { reportsPerInstance: 4 })
    const client = sidecarClient(sidecar)
    const instanceId = `instance-${randomUUID()}`
    for (let i = 0; i < 10; i++) await emit(client, emitRequest(topic, [{ value: bytes(`r${i}`) }], { instanceId }))
    const late = collectReports(client, instanceId, 2)
    await waitFor('gap and 4 reports', () => late.events.length === 5)
    expect(late.events[0]!.event).toEqual({
      $case: 'gap',
      value: expect.objectContaining({ firstSequence: 3, lastSequence: 6 }),
    })
    expect(reportsOf(late.events).map((r) => r.sequence)).toEqual([7, 8, 9, 10])
  })

  it('keeps instances apart', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const mine = collectReports(client, 'instance-a')
    const theirs = collectReports(client, 'instance-b')
    await emit(client, emitRequest(topic, [{ value: bytes('a') }], { instanceId: 'instance-a' }))
    await waitFor('a report for a', () => mine.events.length === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(theirs.events).toEqual([])
  })
})

describe('DeliveryReports after the sidecar restarted', () => {
  it('answers a cursor beyond what it issued with a gap, then streams its own reports from sequence 1', async () => {
    const cluster = await startCluster()
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 1 })
    const sidecar = await startTestSidecar(cluster)
    const client = sidecarClient(sidecar)
    const instanceId = `instance-${randomUUID()}`
    // A client that saw 40 reports from the previous sidecar process resumes after 40.
    const stream = collectReports(client, instanceId, 40)
    await waitFor('the restart gap', () => stream.events.length === 1)
    const gap = stream.events[0]!.event
    expect(gap?.$case).toBe('gap')
    expect(gap?.$case === 'gap' && [gap.value.firstSequence, gap.value.lastSequence]).toEqual([1, 40])
    expect(gap?.$case === 'gap' && gap.value.reason).toMatch(/restarted/)
    await emit(client, emitRequest(topic, [{ value: bytes('after restart') }], { instanceId }))
    await waitFor('the new report', () => stream.events.length === 2)
    expect(reportsOf(stream.events).map((r) => r.sequence)).toEqual([1])
  })
})

/**
 * Requests the sidecar reads right after its event loop stood still are refused unqueued
 * (UNAVAILABLE): their clients have given the connection up by then and sent the records
 * directly, so writing them would duplicate every one. Real grpc-js, embedded-kafka; the stall
 * is a busy loop, as a blocked event loop is.
 */
import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { bytes, emit, emitError, emitRequest, randomTopic, sidecarClient, startCluster, startTestSidecar } from './helpers.js'

function busy(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // The event loop stands still, as in a stopped or blocked sidecar.
  }
}

describe('stall guard', () => {
  it('a request read right after a 1.5 s stall is refused UNAVAILABLE and not written; one sent later is written', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const topic = randomTopic('stall')
    await cluster.createTopic({ topic, partitions: 1 })
    const client = sidecarClient(sidecar)
    await emit(client, emitRequest(topic, [{ value: bytes('warm-up') }]))

    const during = emitError(client, emitRequest(topic, [{ value: bytes('during') }]))
    // Let the request reach the socket, then stop the loop before the sidecar reads it.
    await new Promise((resolve) => setImmediate(resolve))
    busy(1_500)
    const refused = await during
    expect(refused.code).toBe(status.UNAVAILABLE)
    expect(refused.details).toMatch(/event loop stood still for \d+ ms/)

    await new Promise((resolve) => setTimeout(resolve, 500))
    await emit(client, emitRequest(topic, [{ value: bytes('after') }]))
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['warm-up', 'after'])
    client.close()
  })
})

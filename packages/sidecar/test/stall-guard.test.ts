/**
 * Requests the sidecar reads right after its event loop stood still are refused unqueued
 * (UNAVAILABLE): their clients have given the connection up by then and sent the records
 * directly, so writing them would duplicate every one. Real grpc-js, embedded-kafka; the stall
 * is a busy loop, as a blocked event loop is.
 */
import { Metadata, status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import { LIVENESS_HEADER } from '@kafka-sidecar/proto'
import { randomTopic, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bytes, emit, emitError, emitRequest, sidecarClient } from './helpers.js'

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

  it("the stall counts against each client's own liveness timeout: one that waits 10 s has its request written, one that waits 2 s has it refused", async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster)
    const topic = randomTopic('stall-liveness')
    await cluster.createTopic({ topic, partitions: 1 })
    const client = sidecarClient(sidecar)
    const saying = (ms: number) => {
      const metadata = new Metadata()
      metadata.set(LIVENESS_HEADER, String(ms))
      return metadata
    }
    await emit(client, emitRequest(topic, [{ value: bytes('warm-up') }]))
    // A busy sidecar (a large request on a loaded machine): 1.5 s is no reason for a client
    // waiting 10 s to have gone direct, but is for one waiting 2 s (it gives up after 1.5 to 2 s).
    const patient = emit(client, emitRequest(topic, [{ value: bytes('patient') }]), saying(10_000)).then(
      () => 'written',
      (error: Error) => error.message,
    )
    const impatient = emit(
      client,
      { ...emitRequest(topic, [{ value: bytes('impatient') }]), requestId: 2 },
      saying(2_000),
    ).then(
      () => 'written',
      (error: Error) => error.message,
    )
    await new Promise((resolve) => setImmediate(resolve))
    busy(1_500)
    expect(await patient).toBe('written')
    expect(await impatient).toMatch(/event loop stood still for \d+ ms/)
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['warm-up', 'patient'])
    client.close()
  })
})

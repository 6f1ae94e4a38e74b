/**
 * ClusterInfo (issue 13 item 5): the sidecar tells clients which Kafka cluster it writes to, the
 * cluster id and advertised brokers as the brokers report them and its own bootstrap list, so a
 * client can tell a sidecar pointed at another cluster than its application. Guarded by the
 * token like every other call.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { ClusterInfoResponse, ProducerSidecarClient } from '@kafka-sidecar/proto'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import { bearer, sidecarClient } from './helpers.js'

const TOKEN = 'cluster-info-token-0123456789abcdef'

function clusterInfo(
  client: ProducerSidecarClient,
  metadata = new Metadata(),
): Promise<{ error: ServiceError | null; response?: ClusterInfoResponse }> {
  return new Promise((resolve) =>
    client.clusterInfo({}, metadata, { deadline: Date.now() + 10_000 }, (error, response) =>
      resolve({ error, response }),
    ),
  )
}

async function clusterIdOf(brokers: string[]): Promise<string> {
  const admin = new Kafka({ clientId: 'cluster-info-test', brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    return (await admin.describeCluster()).clusterId
  } finally {
    await admin.disconnect()
  }
}

describe('ClusterInfo', () => {
  it('answers the cluster id, the configured bootstrap list and the advertised brokers', async () => {
    const cluster = await startCluster()
    // The bootstrap list as configured (one broker), not as discovered: a client compares lists.
    const bootstrap = [cluster.bootstrapServers[1]!]
    const sidecar = await startTestSidecar(cluster, { brokers: bootstrap })
    const { error, response } = await clusterInfo(sidecarClient(sidecar))
    expect(error).toBeNull()
    expect(response).toEqual({
      clusterId: await clusterIdOf(cluster.bootstrapServers),
      bootstrapServers: bootstrap,
      brokers: [...cluster.bootstrapServers].sort(),
    })
    expect(response!.clusterId).not.toBe('')
  })

  it('with a token configured: refused without it or with a wrong one, answered with it', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { token: TOKEN })
    const client = sidecarClient(sidecar)

    const missing = await clusterInfo(client)
    expect(missing.error && { code: status[missing.error.code], details: missing.error.details }).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'missing "authorization: Bearer <token>" metadata',
    })
    expect(missing.response).toBeUndefined()
    const wrong = await clusterInfo(client, bearer(`x${TOKEN.slice(1)}`))
    expect(wrong.error && { code: status[wrong.error.code], details: wrong.error.details }).toEqual({
      code: 'UNAUTHENTICATED',
      details: 'invalid token',
    })

    const right = await clusterInfo(client, bearer(TOKEN))
    expect(right.error).toBeNull()
    expect(right.response?.clusterId).toBe(await clusterIdOf(cluster.bootstrapServers))
  })

  it('keeps answering the cluster it learned while the brokers are down (a cluster keeps its id)', async () => {
    const cluster = await startCluster()
    const sidecar = await startTestSidecar(cluster, { kafkaProbeIntervalMs: 100 })
    const client = sidecarClient(sidecar)
    const before = await clusterInfo(client)
    expect(before.error).toBeNull()
    await cluster.stopBrokers()
    const during = await clusterInfo(client)
    expect(during).toEqual(before)
  })
})

import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { connectedAdmin, connectedProducer, kafkaFor, randomTopic, startCluster } from '@kafka-sidecar/test-support'
import { FindCoordinator } from '../src/apis/10-find-coordinator.js'
import { openRaw } from './raw-client.js'

function refusesConnections(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':')
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(true))
  })
}

describe('stopping and restarting brokers', () => {
  it('fails partitions over to a live replica when their leader stops, and back when it returns', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 3 }) // replication factor 3 by default
    const producer = await connectedProducer(kafka)
    await producer.send({
      topic,
      messages: [0, 1, 2].map((partition) => ({ partition, value: `before-${partition}` })),
    })
    const address = cluster.bootstrapServers[1]!
    const moved = cluster.offsets(topic).find((o) => o.leaderId === 2)!.partition

    await cluster.stopBroker(2)
    expect(await refusesConnections(address)).toBe(true)
    expect(cluster.brokers().map((b) => b.running)).toEqual([true, false, true])
    const admin = await connectedAdmin(kafka)
    expect((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort()).toEqual([1, 3])
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    const failedOver = topics[0]!.partitions.find((p) => p.partitionId === moved)!
    expect([1, 3]).toContain(failedOver.leader)
    expect(failedOver.isr).not.toContain(2)
    expect(failedOver.offlineReplicas).toEqual([2])

    // The producer learns the new leader from NOT_LEADER_OR_FOLLOWER / metadata and carries on.
    await producer.send({ topic, messages: [{ partition: moved, value: 'during' }] })

    await cluster.startBroker(2)
    expect(cluster.bootstrapServers[1]).toBe(address)
    expect(cluster.offsets(topic).find((o) => o.partition === moved)!.leaderId).toBe(2)
    await producer.send({ topic, messages: [{ partition: moved, value: 'after' }] })
    const values = (await cluster.records(topic)).filter((r) => r.partition === moved).map((r) => r.value!.toString())
    expect(values).toEqual([`before-${moved}`, 'during', 'after'])
  })

  it('takes single-replica partitions offline while their broker is down', async () => {
    const cluster = await startCluster({ brokers: 2 })
    const kafka = kafkaFor(cluster)
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2, replicationFactor: 1 })
    const offline = cluster.offsets(topic).find((o) => o.leaderId === 2)!.partition
    const producer = await connectedProducer(kafka, { retry: { retries: 1, initialRetryTime: 20 } })
    await producer.send({ topic, messages: [{ partition: offline, value: 'before' }] })

    await cluster.stopBroker(2)
    expect(cluster.offsets(topic).find((o) => o.partition === offline)!.leaderId).toBe(-1)
    await expect(producer.send({ topic, messages: [{ partition: offline, value: 'lost?' }] })).rejects.toThrow(
      /leader/i,
    )

    await cluster.startBroker(2)
    await producer.send({ topic, messages: [{ partition: offline, value: 'after' }] })
    const values = (await cluster.records(topic)).filter((r) => r.partition === offline).map((r) => r.value!.toString())
    expect(values).toEqual(['before', 'after'])
  })

  it('restarts the whole cluster on the same ports with its data', async () => {
    const cluster = await startCluster({ brokers: 2 })
    const topic = randomTopic()
    await cluster.createTopic({ topic, partitions: 2 })
    const before = [...cluster.bootstrapServers]
    {
      const producer = await connectedProducer(kafkaFor(cluster))
      await producer.send({
        topic,
        messages: [
          { partition: 0, value: 'one' },
          { partition: 1, value: 'two' },
        ],
      })
    }
    await cluster.stopBrokers()
    for (const address of before) expect(await refusesConnections(address)).toBe(true)
    expect(cluster.offsets(topic).map((o) => o.leaderId)).toEqual([-1, -1])
    await cluster.startBrokers()
    expect(cluster.bootstrapServers).toEqual(before)
    const producer = await connectedProducer(kafkaFor(cluster))
    const [result] = await producer.send({ topic, messages: [{ partition: 0, value: 'three' }] })
    expect(result!.baseOffset).toBe('1')
    expect((await cluster.records(topic)).map((r) => r.value!.toString())).toEqual(['one', 'three', 'two'])
  })

  it("names the group's coordinator as FindCoordinator does, and a new one when it stops", async () => {
    const cluster = await startCluster({ brokers: 3 })
    const groupId = randomTopic('group')
    const found = async () => {
      const live = cluster.brokers().find((b) => b.running)!
      const raw = await openRaw({ host: live.host, port: live.port })
      const answer = await raw.roundTrip(FindCoordinator, 2, { key: groupId, keyType: 0 })
      return answer.nodeId
    }
    const first = cluster.groupCoordinator(groupId)
    expect(first).toBe(await found())
    await cluster.stopBroker(first)
    const second = cluster.groupCoordinator(groupId)
    expect(second).not.toBe(first)
    expect(second).toBe(await found())
    await cluster.startBroker(first)
    expect(cluster.groupCoordinator(groupId)).toBe(first)
    await cluster.stopBrokers()
    expect(cluster.groupCoordinator(groupId)).toBe(-1)
  })

  it('refuses to start a broker after the cluster was stopped for good', async () => {
    const cluster = await startCluster({ brokers: 1 })
    await cluster.stop()
    await expect(cluster.startBroker(1)).rejects.toThrow(/cluster was stopped/)
    await expect(cluster.stopBroker(9)).rejects.toThrow(/no broker with id 9/)
  })
})

import { describe, expect, it } from 'vitest'
import { connectedAdmin, connectedProducer, kafkaFor, randomTopic, startCluster } from '@kafka-sidecar/test-support'

describe('admin (KafkaJS admin client over TCP)', () => {
  it('creates topics with leaders spread across brokers and lists them', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const admin = await connectedAdmin(kafkaFor(cluster))
    const topic = randomTopic()
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true })).toBe(true)
    expect(await admin.listTopics()).toContain(topic)
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    const partitions = topics[0]!.partitions
    expect(partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3, 4, 5])
    const leaders = new Set(partitions.map((p) => p.leader))
    expect(leaders).toEqual(new Set([1, 2, 3]))
    for (const p of partitions) {
      expect(p.partitionErrorCode).toBe(0)
      // Default replication factor min(3, brokers); the preferred (first) replica leads.
      expect(p.replicas).toHaveLength(3)
      expect(p.replicas[0]).toBe(p.leader)
      expect([...p.isr].sort()).toEqual([1, 2, 3])
    }
  })

  it('reports a real controller and the live brokers', async () => {
    const cluster = await startCluster({ brokers: 3 })
    const admin = await connectedAdmin(kafkaFor(cluster))
    const description = await admin.describeCluster()
    expect(description.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3])
    expect(description.controller).toBe(1)
    expect(description.clusterId).toMatch(/^[\w-]{22}$/)
    expect(description.brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual([...cluster.bootstrapServers].sort())
  })

  it('returns false when creating a topic that exists, and rejects invalid requests with Kafka errors', async () => {
    const cluster = await startCluster()
    const admin = await connectedAdmin(kafkaFor(cluster))
    const topic = randomTopic()
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(true)
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(false)
    await expect(admin.createTopics({ topics: [{ topic: 'bad name!', numPartitions: 1 }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_TOPIC_EXCEPTION' })],
    })
    await expect(
      admin.createTopics({ topics: [{ topic: randomTopic(), numPartitions: 1, replicationFactor: 4 }] }),
    ).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })],
    })
  })

  it('fetches offsets by position and by timestamp', async () => {
    const cluster = await startCluster()
    const kafka = kafkaFor(cluster)
    const admin = await connectedAdmin(kafka)
    const topic = randomTopic()
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
    const producer = await connectedProducer(kafka)
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: 'a', timestamp: '1000' },
        { partition: 0, value: 'b', timestamp: '1000' },
      ],
    })
    await producer.send({ topic, messages: [{ partition: 0, value: 'c', timestamp: '5000' }] })
    const offsets = await admin.fetchTopicOffsets(topic)
    expect(offsets.sort((a, b) => a.partition - b.partition)).toEqual([
      { partition: 0, offset: '3', high: '3', low: '0' },
      { partition: 1, offset: '0', high: '0', low: '0' },
    ])
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, 2000)
    expect(byTime.find((o) => o.partition === 0)).toEqual({ partition: 0, offset: '2' })
  })

  it('deletes topics and grows partitions', async () => {
    const cluster = await startCluster({ autoCreateTopics: false })
    const admin = await connectedAdmin(kafkaFor(cluster))
    const keep = randomTopic()
    const drop = randomTopic()
    await admin.createTopics({
      topics: [
        { topic: keep, numPartitions: 1 },
        { topic: drop, numPartitions: 1 },
      ],
    })
    await admin.deleteTopics({ topics: [drop] })
    expect(await admin.listTopics()).not.toContain(drop)
    expect(cluster.topics()).not.toContain(drop)

    await admin.createPartitions({ topicPartitions: [{ topic: keep, count: 4 }] })
    const { topics } = await admin.fetchTopicMetadata({ topics: [keep] })
    expect(topics[0]!.partitions).toHaveLength(4)
    await expect(admin.createPartitions({ topicPartitions: [{ topic: keep, count: 2 }] })).rejects.toMatchObject({
      type: 'INVALID_PARTITIONS',
      code: 37,
    })
  })

  it('describes and lists consumer groups', async () => {
    const cluster = await startCluster()
    const kafka = kafkaFor(cluster)
    const admin = await connectedAdmin(kafka)
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topic })
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve))
    await consumer.run({ eachMessage: async () => {} })
    await joined
    const { groups } = await admin.listGroups()
    expect(groups).toContainEqual({ groupId, protocolType: 'consumer' })
    const described = await admin.describeGroups([groupId])
    expect(described.groups[0]).toMatchObject({
      groupId,
      state: 'Stable',
      protocolType: 'consumer',
      protocol: 'RoundRobinAssigner',
    })
    expect(described.groups[0]!.members).toHaveLength(1)
    expect(described.groups[0]!.members[0]!.clientHost).toBe('/127.0.0.1')
    await expect(admin.deleteGroups([groupId])).rejects.toMatchObject({
      groups: [{ groupId, errorCode: 68, error: expect.objectContaining({ type: 'NON_EMPTY_GROUP' }) }],
    })
    await consumer.disconnect()
    const after = await admin.describeGroups([groupId])
    expect(after.groups[0]).toMatchObject({ groupId, state: 'Empty', members: [] })
  })

  it('deletes an empty group with its offsets; a group it does not know is GROUP_ID_NOT_FOUND', async () => {
    const cluster = await startCluster()
    const admin = await connectedAdmin(kafkaFor(cluster))
    const topic = randomTopic()
    const groupId = randomTopic('group')
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }] })
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId)
    expect(await admin.deleteGroups([groupId])).toEqual([{ groupId, errorCode: 0 }])
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId)
    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([
      { topic, partitions: [{ partition: 0, offset: '-1', metadata: null }] },
    ])
    await expect(admin.deleteGroups([groupId])).rejects.toMatchObject({
      groups: [{ groupId, errorCode: 69, error: expect.objectContaining({ type: 'GROUP_ID_NOT_FOUND' }) }],
    })
  })
})

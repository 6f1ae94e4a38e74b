'use strict'
/**
 * The corpus's consumer programs: ordinary KafkaJS consumer code, run unchanged on `kafkajs`, on
 * the client in direct mode and with KAFKA_SIDECAR_CONSUMER_MODE=sidecar (see corpus.cjs for the
 * arguments). Each produces what it consumes, waits on conditions (records seen, offsets
 * committed) with a deadline, never on time alone, and disconnects everything it connected.
 *
 * The consumer settings are what a quick application would choose: a short long-poll (so stop()
 * and disconnect() do not wait out KafkaJS's 5 s default) and a quick retry.
 */

/** How long a program waits for a condition before it notes that it did not hold. */
const WAIT_MS = 8_000

/** Polls `condition` (sync or async) every 20 ms until it holds or `ms` passed; whether it held. */
async function until(condition, ms = WAIT_MS) {
  const deadline = Date.now() + ms
  for (;;) {
    if (await condition()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function consumerConfig(ctx, extra = {}) {
  return {
    groupId: ctx.ids.group,
    maxWaitTimeInMs: 100,
    heartbeatInterval: 500,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    retry: { initialRetryTime: 50, retries: 5 },
    ...extra,
  }
}

/** Writes `messages` to `topic` with a producer of its own, connected and disconnected as steps. */
async function produce(kafka, ctx, topic, messages, label = 'produce') {
  const producer = kafka.producer()
  await ctx.step(`${label}: connect`, () => producer.connect())
  await ctx.step(label, () => producer.send({ topic, messages }))
  await ctx.step(`${label}: disconnect`, () => producer.disconnect())
}

/** What a program compares of a message: everything KafkaJS gives, offsets and timestamps as it types them. */
function messageFacts(partition, message) {
  const headers = {}
  for (const [name, value] of Object.entries(message.headers || {}))
    headers[name] = Array.isArray(value) ? value.map(String) : value === undefined ? '(undefined)' : String(value)
  return {
    partition,
    offset: message.offset,
    key: message.key === null ? null : message.key.toString(),
    value: message.value === null ? null : message.value.toString(),
    headers,
    timestamp: typeof message.timestamp === 'string' && /^\d+$/.test(message.timestamp) ? 'digits' : message.timestamp,
  }
}

/** uncommittedOffsets() as `topic/partition@offset` strings (KafkaJS's shape nests deeper than a note shows). */
function offsetList({ topics }) {
  return topics.flatMap(({ topic, partitions }) =>
    partitions.map(({ partition, offset }) => `${topic}/${typeof partition} ${partition}@${typeof offset} ${offset}`),
  )
}

/** By partition, in delivery order. */
function byPartition(seen) {
  const out = {}
  for (const s of seen) (out[s.partition] = out[s.partition] || []).push(s)
  return out
}

/** The group's committed offsets of `topic`, `{ partition: offset }`, as admin.fetchOffsets gives them. */
async function committed(admin, groupId, topic) {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return Object.fromEntries(result.partitions.map((p) => [p.partition, p.offset]))
}

/** Connects an admin, runs `body(admin)`, always disconnects. */
async function withAdmin(kafka, ctx, body) {
  const admin = kafka.admin()
  await ctx.step('admin connect', () => admin.connect())
  try {
    return await body(admin)
  } finally {
    await ctx.step('admin disconnect', () => admin.disconnect())
  }
}

/** Waits until the group's committed offsets of `topic` are `wanted`, notes whether they got there and what they are. */
async function expectCommitted(admin, ctx, topic, wanted, label = 'committed') {
  let last = null
  const reached = await until(async () => {
    last = await committed(admin, ctx.ids.group, topic)
    return JSON.stringify(last) === JSON.stringify(wanted)
  })
  ctx.note(label, { reached, offsets: last })
}

const programs = [
  {
    name: 'consume-each-message',
    about:
      'keyed records with headers to 3 partitions, consumed fromBeginning with eachMessage: per partition in order, the message and payload shapes, the commits',
    topics: { t: { partitions: 3 } },
    ids: ['group'],
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const topic = ctx.topics.t
      const messages = Array.from({ length: 12 }, (_, i) => ({
        key: `key-${i}`,
        value: `value-${i}`,
        headers: { n: String(i), tag: ['a', Buffer.from('b')] },
      }))
      messages.push({ key: 'tombstone', value: null }, { key: null, value: 'no key', partition: 2 })
      await produce(kafka, ctx, topic, messages)
      const consumer = kafka.consumer(consumerConfig(ctx))
      ctx.listenConsumer(consumer)
      const commits = []
      consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => commits.push(payload))
      const seen = []
      await ctx.step('connect', () => consumer.connect())
      try {
        await ctx.step('subscribe', () => consumer.subscribe({ topics: [topic], fromBeginning: true }))
        await ctx.step('run', () =>
          consumer.run({
            eachMessage: async (payload) => {
              if (seen.length === 0) {
                ctx.note('payload keys', Object.keys(payload).sort())
                ctx.note('message keys', Object.keys(payload.message).sort())
                ctx.note('payload', {
                  topic: payload.topic,
                  heartbeat: typeof payload.heartbeat,
                  pause: typeof payload.pause,
                })
              }
              seen.push(messageFacts(payload.partition, payload.message))
            },
          }),
        )
        ctx.note('all seen', await until(() => seen.length >= messages.length))
        ctx.note('delivered', byPartition(seen))
        await withAdmin(kafka, ctx, (admin) => expectCommitted(admin, ctx, topic, byPartitionEnds(seen)))
        const [commit] = commits
        ctx.note('first commit', commit && { groupId: commit.groupId, groupGenerationId: commit.groupGenerationId })
      } finally {
        await ctx.step('disconnect', () => consumer.disconnect())
      }
    },
  },
  {
    name: 'consume-each-batch',
    about:
      "eachBatch without auto-resolve: a batch's methods, resolveOffset of part of a batch (the rest comes again), heartbeat, uncommittedOffsets, commitOffsetsIfNecessary",
    topics: { t: { partitions: 2 } },
    ids: ['group'],
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const topic = ctx.topics.t
      const messages = [0, 1].flatMap((partition) =>
        Array.from({ length: 8 }, (_, i) => ({ partition, key: `k${i}`, value: `p${partition}-${i}` })),
      )
      await produce(kafka, ctx, topic, messages)
      // heartbeatInterval 0: every heartbeat() call heartbeats, so HEARTBEAT events do not depend on timing.
      const consumer = kafka.consumer(consumerConfig(ctx, { heartbeatInterval: 0 }))
      ctx.listenConsumer(consumer, 'consumer', { heartbeats: true })
      const batches = []
      let cutShort = false
      await ctx.step('connect', () => consumer.connect())
      try {
        await ctx.step('subscribe', () => consumer.subscribe({ topic, fromBeginning: true }))
        await ctx.step('run', () =>
          consumer.run({
            eachBatchAutoResolve: false,
            eachBatch: async (payload) => {
              const { batch } = payload
              if (batches.length === 0) ctx.note('payload keys', Object.keys(payload).sort())
              const facts = {
                partition: batch.partition,
                offsets: batch.messages.map((m) => m.offset),
                firstOffset: batch.firstOffset(),
                lastOffset: batch.lastOffset(),
                highWatermark: batch.highWatermark,
                offsetLag: batch.offsetLag(),
                offsetLagLow: batch.offsetLagLow(),
                isEmpty: batch.isEmpty(),
                isRunning: payload.isRunning(),
                isStale: payload.isStale(),
              }
              // Partition 0's first batch: resolve only up to offset 4; the rest must come again.
              const cut = batch.partition === 0 && !cutShort
              for (const message of batch.messages) {
                if (cut && Number(message.offset) > 4) break
                payload.resolveOffset(message.offset)
              }
              if (cut) cutShort = true
              await payload.heartbeat()
              facts.uncommitted = offsetList(payload.uncommittedOffsets())
              await payload.commitOffsetsIfNecessary()
              facts.uncommittedAfterCommit = offsetList(payload.uncommittedOffsets())
              batches.push(facts)
            },
          }),
        )
        const seen = (partition) => batches.filter((b) => b.partition === partition).flatMap((b) => b.offsets)
        ctx.note('all seen', await until(() => seen(0).filter((o) => o === '7').length >= 2 && seen(1).includes('7')))
        ctx.note('batches', byPartition(batches))
        await withAdmin(kafka, ctx, (admin) => expectCommitted(admin, ctx, topic, { 0: '8', 1: '8' }))
      } finally {
        await ctx.step('disconnect', () => consumer.disconnect())
      }
    },
  },
  {
    name: 'consume-seek-pause',
    about: 'seek back on a running consumer, pause/resume a partition, paused()',
    topics: { t: { partitions: 2 } },
    ids: ['group'],
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const topic = ctx.topics.t
      const write = (from, label) =>
        produce(
          kafka,
          ctx,
          topic,
          [0, 1].flatMap((partition) =>
            [from, from + 1, from + 2].map((i) => ({ partition, key: `k${i}`, value: `p${partition}-${i}` })),
          ),
          label,
        )
      await write(0, 'produce')
      const consumer = kafka.consumer(consumerConfig(ctx))
      ctx.listenConsumer(consumer)
      const seen = []
      const values = (partition) => seen.filter((s) => s.partition === partition).map((s) => s.value)
      await ctx.step('connect', () => consumer.connect())
      try {
        await ctx.step('subscribe', () => consumer.subscribe({ topic, fromBeginning: true }))
        await ctx.step('run', () =>
          consumer.run({
            eachMessage: async ({ partition, message }) => void seen.push(messageFacts(partition, message)),
          }),
        )
        ctx.note('first six', await until(() => seen.length >= 6))
        await ctx.step('seek partition 0 to 1', () => consumer.seek({ topic, partition: 0, offset: '1' }))
        ctx.note('partition 0 again from 1', await until(() => values(0).length >= 5))
        await ctx.step('pause partition 1', () => consumer.pause([{ topic, partitions: [1] }]))
        ctx.note('paused', consumer.paused())
        await write(3, 'produce more')
        ctx.note('partition 0 goes on', await until(() => values(0).length >= 8))
        ctx.note('partition 1 while paused', values(1))
        await ctx.step('resume partition 1', () => consumer.resume([{ topic, partitions: [1] }]))
        ctx.note('paused after resume', consumer.paused())
        ctx.note('partition 1 after resume', await until(() => values(1).length >= 6))
        ctx.note('delivered', { 0: values(0), 1: values(1) })
      } finally {
        await ctx.step('disconnect', () => consumer.disconnect())
      }
    },
  },
  {
    name: 'consume-handler-throws',
    about:
      'a handler that throws once (retried, the record processed again), and one that always throws with restartOnFailure false (CRASH, the consumer stops)',
    topics: { once: { partitions: 1 }, always: { partitions: 1 } },
    ids: ['group', 'crashing'],
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const messages = ['a', 'b', 'c'].map((value) => ({ key: value, value }))
      await produce(kafka, ctx, ctx.topics.once, messages)
      await produce(kafka, ctx, ctx.topics.always, messages, 'produce to always')

      const retried = kafka.consumer(consumerConfig(ctx))
      ctx.listenConsumer(retried, 'retried')
      const seen = []
      let thrown = false
      await ctx.step('connect', () => retried.connect())
      try {
        await ctx.step('subscribe', () => retried.subscribe({ topic: ctx.topics.once, fromBeginning: true }))
        await ctx.step('run', () =>
          retried.run({
            eachMessage: async ({ message }) => {
              seen.push(message.value.toString())
              if (message.value.toString() === 'b' && !thrown) {
                thrown = true
                throw new Error('failed once')
              }
            },
          }),
        )
        ctx.note('c seen', await until(() => seen.includes('c')))
        ctx.note('seen', seen)
      } finally {
        await ctx.step('disconnect', () => retried.disconnect())
      }

      const crashing = kafka.consumer(
        consumerConfig(ctx, {
          groupId: ctx.ids.crashing,
          retry: { initialRetryTime: 50, retries: 1, restartOnFailure: async () => false },
        }),
      )
      ctx.listenConsumer(crashing, 'crashing')
      const crashes = []
      crashing.on(crashing.events.CRASH, (event) => crashes.push(event.payload))
      let calls = 0
      await ctx.step('connect crashing', () => crashing.connect())
      try {
        await ctx.step('subscribe crashing', () =>
          crashing.subscribe({ topic: ctx.topics.always, fromBeginning: true }),
        )
        await ctx.step('run crashing', () =>
          crashing.run({
            eachMessage: async () => {
              calls++
              throw new Error('always fails')
            },
          }),
        )
        ctx.note('crashed', await until(() => crashes.length > 0))
        const crash = crashes[0]
        if (crash) {
          const { error } = crash
          // The crash as an application reads it; retryTime is KafkaJS's randomised backoff.
          ctx.note('crash', {
            groupId: crash.groupId,
            restart: crash.restart,
            error: {
              name: error.name,
              message: error.message,
              retriable: error.retriable,
              retryCount: error.retryCount,
            },
            cause: error.cause && { name: error.cause.name, message: error.cause.message },
          })
        }
        ctx.note('handler calls', calls)
      } finally {
        await ctx.step('disconnect crashing', () => crashing.disconnect())
      }
      await withAdmin(kafka, ctx, async (admin) => {
        await expectCommitted(admin, ctx, ctx.topics.once, { 0: '3' })
        ctx.note('crashing group committed', await committed(admin, ctx.ids.crashing, ctx.topics.always))
      })
    },
  },
  {
    name: 'consume-group-membership',
    about:
      'GROUP_JOIN payload, describeGroup while running (one member), stop and run again (no record twice), subscribe to a RegExp',
    topics: { t: { partitions: 2 }, other: { partitions: 1 } },
    ids: ['group'],
    async run({ Kafka, AssignerProtocol }, ctx) {
      const kafka = new Kafka(ctx.config)
      const topic = ctx.topics.t
      await produce(kafka, ctx, topic, [
        { partition: 0, key: 'a', value: 'first-0' },
        { partition: 1, key: 'b', value: 'first-1' },
      ])
      await produce(kafka, ctx, ctx.topics.other, [{ key: 'c', value: 'other-0' }], 'produce to other')
      const consumer = kafka.consumer(consumerConfig(ctx))
      ctx.listenConsumer(consumer)
      const joins = []
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
        joins.push({
          groupId: payload.groupId,
          memberId: typeof payload.memberId,
          leaderIsMember: payload.leaderId === payload.memberId,
          isLeader: payload.isLeader,
          groupProtocol: payload.groupProtocol,
          memberAssignment: payload.memberAssignment,
          duration: typeof payload.duration,
        }),
      )
      const seen = []
      const eachMessage = async ({ topic: from, partition, message }) =>
        void seen.push({ topic: from, ...messageFacts(partition, message) })
      await ctx.step('connect', () => consumer.connect())
      try {
        // Both topics, one by name and one by a regular expression matching only it.
        const escaped = ctx.topics.other.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        await ctx.step('subscribe', () =>
          consumer.subscribe({ topics: [topic, new RegExp(`^${escaped}$`)], fromBeginning: true }),
        )
        await ctx.step('run', () => consumer.run({ eachMessage }))
        ctx.note('first three', await until(() => seen.length >= 3))
        ctx.note('joins', joins)
        const description = await ctx.step('describeGroup', () => consumer.describeGroup())
        if (description) {
          const [member] = description.members
          ctx.note('group', {
            groupId: description.groupId,
            state: description.state,
            protocol: description.protocol,
            protocolType: description.protocolType,
            errorCode: description.errorCode,
            members: description.members.length,
            memberKeys: member && Object.keys(member).sort(),
            clientId: member && member.clientId,
            assignment: member && AssignerProtocol.MemberAssignment.decode(member.memberAssignment),
          })
        }
        await ctx.step('stop', () => consumer.stop())
        await produce(kafka, ctx, topic, [{ partition: 0, key: 'a', value: 'second-0' }], 'produce again')
        await ctx.step('run again', () => consumer.run({ eachMessage }))
        ctx.note('after run again', await until(() => seen.length >= 4))
        ctx.note('joins after run again', joins.length)
        ctx.note('delivered', seen)
      } finally {
        await ctx.step('disconnect', () => consumer.disconnect())
      }
    },
  },
  {
    name: 'consumer-misuse',
    about:
      'seek before run, subscribe after run, run twice, bad pause and subscribe arguments, commitOffsets with explicit offsets, an unknown event',
    topics: { t: { partitions: 1 } },
    ids: ['group'],
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const topic = ctx.topics.t
      await produce(
        kafka,
        ctx,
        topic,
        ['a', 'b', 'c', 'd'].map((value) => ({ key: value, value })),
      )
      const consumer = kafka.consumer(consumerConfig(ctx, { autoCommit: false }))
      ctx.listenConsumer(consumer)
      await ctx.step('unknown event', () => consumer.on('consumer.nothing', () => {}))
      await ctx.step('seek before run', () => consumer.seek({ topic, partition: 0, offset: '1' }))
      await ctx.step('connect', () => consumer.connect())
      const seen = []
      try {
        await ctx.step('subscribe to nothing', () => consumer.subscribe({}))
        await ctx.step('subscribe with a number', () => consumer.subscribe({ topic: 42 }))
        await ctx.step('subscribe', () => consumer.subscribe({ topic, fromBeginning: true }))
        const runConfig = { eachMessage: async ({ message }) => void seen.push(message.value.toString()) }
        await ctx.step('run', () => consumer.run(runConfig))
        await ctx.step('run twice', () => consumer.run(runConfig))
        await ctx.step('subscribe after run', () => consumer.subscribe({ topic, fromBeginning: true }))
        await ctx.step('pause without a topic', () => consumer.pause([{ partitions: [0] }]))
        await ctx.step('seek to a bad offset', () => consumer.seek({ topic, partition: 0, offset: 'x' }))
        ctx.note('all seen', await until(() => seen.length >= 4))
        await ctx.step('commit bad offsets', () => consumer.commitOffsets([{ topic, partition: 0, offset: 'x' }]))
        await ctx.step('commit offset 2', () => consumer.commitOffsets([{ topic, partition: 0, offset: '2' }]))
        await withAdmin(kafka, ctx, (admin) => expectCommitted(admin, ctx, topic, { 0: '2' }))
        ctx.note('seen', seen)
      } finally {
        await ctx.step('disconnect', () => consumer.disconnect())
      }
    },
  },
]

/** `{ partition: next offset }` after what was seen: what auto-commit ends at. */
function byPartitionEnds(seen) {
  const out = {}
  for (const s of seen) out[s.partition] = String(Math.max(Number(out[s.partition] || 0), Number(s.offset) + 1))
  return out
}

module.exports = { programs }

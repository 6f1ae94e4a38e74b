'use strict'
/**
 * The corpus: ordinary KafkaJS producer programs, and the consumer programs of
 * corpus-consumers.cjs. Each runs unchanged on whatever module the
 * application loaded (`kafkajs`, or `@kafka-sidecar/client` in direct or sidecar mode), which it
 * receives as its first argument, exactly what `require('kafkajs')` returns. The second argument
 * is the harness's context:
 *
 * - `config`: `{ clientId, brokers, logLevel }` for `new Kafka()` (spread it, add what you like);
 * - `topics`: the program's topics by the names it declared (random names, fresh for every run;
 *   those declared `{ create: false }` do not exist beforehand);
 * - `ids`: random ids by declared name (transactional ids, group ids);
 * - `step(label, call)`: runs one call and records its value or error (never throws);
 * - `listen(producer)`: subscribes to every producer event KafkaJS documents (once per producer);
 * - `listenConsumer(consumer, name?, { heartbeats? })`: the same for a consumer's events;
 * - `note(label, value)`: records anything else the application can see.
 *
 * A program disconnects what it connected. Everything it does, and everything it leaves in
 * Kafka, is compared across modes; see README.md.
 */
const { gunzipSync, gzipSync, deflateSync, inflateSync } = require('node:zlib')

/** A codec in KafkaJS's shape, over zlib: what an application registers for a codec KafkaJS lacks. */
function zlibCodec(compress, decompress, calls) {
  return () => ({
    async compress(encoder) {
      calls.compress++
      return compress(encoder.buffer)
    },
    async decompress(buffer) {
      calls.decompress++
      return decompress(buffer)
    },
  })
}

/** Listens to the producer's events, connects, runs `body`, and always disconnects, each as a step. */
async function connected(producer, { step, listen }, body) {
  listen(producer)
  await step('connect', () => producer.connect())
  try {
    await body()
  } finally {
    await step('disconnect', () => producer.disconnect())
  }
}

const programs = [
  {
    name: 'send-keyed',
    about: 'keyed records (ASCII, unicode, long keys) to a 3-partition topic, in two sends',
    topics: { orders: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      ctx.listen(producer)
      await connected(producer, ctx, async () => {
        const keys = ['a', 'b', 'c', 'order-1', 'order-2', 'ключ', '🔑', 'x'.repeat(300), 'Aa', 'BB']
        await ctx.step('send', () =>
          producer.send({ topic: ctx.topics.orders, messages: keys.map((key, i) => ({ key, value: `value-${i}` })) }),
        )
        await ctx.step('send again', () =>
          producer.send({ topic: ctx.topics.orders, messages: keys.map((key, i) => ({ key, value: `again-${i}` })) }),
        )
      })
    },
  },
  {
    name: 'send-null-keys',
    about: 'records without keys (round-robin) to a 3-partition topic',
    topics: { events: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('send', () =>
          producer.send({
            topic: ctx.topics.events,
            messages: Array.from({ length: 9 }, (_, i) => ({ value: `v${i}` })),
          }),
        )
        await ctx.step('send one', () => producer.send({ topic: ctx.topics.events, messages: [{ value: 'single' }] }))
      })
    },
  },
  {
    name: 'keys-and-values',
    about: 'null and empty keys and values, tombstones, binary keys and values',
    topics: { kv: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.kv
        await ctx.step('empty key', () => producer.send({ topic, messages: [{ key: '', value: 'empty key' }] }))
        await ctx.step('empty value', () => producer.send({ topic, messages: [{ key: 'k1', value: '' }] }))
        await ctx.step('tombstone', () => producer.send({ topic, messages: [{ key: 'k1', value: null }] }))
        await ctx.step('empty buffer key and value', () =>
          producer.send({ topic, messages: [{ key: Buffer.alloc(0), value: Buffer.alloc(0) }] }),
        )
        await ctx.step('binary', () =>
          producer.send({
            topic,
            messages: [{ key: Buffer.from([0, 255, 1, 254]), value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0]) }],
          }),
        )
        await ctx.step('null key, null value, partition 1', () =>
          producer.send({ topic, messages: [{ key: null, value: null, partition: 1 }] }),
        )
        await ctx.step('unicode', () =>
          producer.send({ topic, messages: [{ key: 'ключ-🔑', value: 'значение ✓ 值' }] }),
        )
        await ctx.step('tombstones in a batch', () =>
          producer.sendBatch({
            topicMessages: [
              {
                topic,
                messages: [
                  { key: 'k2', value: 'live' },
                  { key: 'k2', value: null },
                  { key: 'k3', value: null },
                ],
              },
            ],
          }),
        )
      })
    },
  },
  {
    name: 'explicit-partitions',
    about: 'explicit partitions, 0 included, overriding the key hash',
    topics: { p: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.p
        await ctx.step('partition 0', () => producer.send({ topic, messages: [{ partition: 0, value: 'zero' }] }))
        await ctx.step('partitions 2, 1, 0 with keys', () =>
          producer.send({
            topic,
            messages: [
              { partition: 2, key: 'a', value: 'two' },
              { partition: 1, key: 'a', value: 'one' },
              { partition: 0, key: 'a', value: 'zero again' },
            ],
          }),
        )
        await ctx.step('partition 0 with a null key', () =>
          producer.send({ topic, messages: [{ partition: 0, key: null, value: 'null key on 0' }] }),
        )
        await ctx.step('partition out of range', () =>
          producer.send({ topic, messages: [{ partition: 7, value: 'nowhere' }] }),
        )
      })
    },
  },
  {
    name: 'headers',
    about: 'header values as strings, Buffers and arrays; unicode and empty names and values',
    topics: { h: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.h
        await ctx.step('string and buffer values', () =>
          producer.send({
            topic,
            messages: [{ key: 'k', value: 'v', headers: { text: 'plain', bytes: Buffer.from([0, 1, 2, 255]) } }],
          }),
        )
        await ctx.step('array values', () =>
          producer.send({
            topic,
            messages: [{ key: 'k', value: 'v', headers: { tag: ['a', 'b', Buffer.from('c')], single: ['only'] } }],
          }),
        )
        await ctx.step('unicode and empty', () =>
          producer.send({
            topic,
            messages: [
              {
                key: 'k',
                value: 'v',
                headers: { 'ключ-🔑': 'значение ✓', '': 'empty name', empty: '', emptyBuffer: Buffer.alloc(0) },
              },
            ],
          }),
        )
        await ctx.step('many headers', () =>
          producer.send({
            topic,
            messages: [
              {
                value: 'v',
                partition: 0,
                headers: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`h${i}`, `${i}`])),
              },
            ],
          }),
        )
        await ctx.step('empty array value', () =>
          producer.send({ topic, messages: [{ key: 'k', value: 'empty array', headers: { none: [], after: 'x' } }] }),
        )
        await ctx.step('null value', () =>
          producer.send({ topic, messages: [{ key: 'k', value: 'null header', headers: { nothing: null } }] }),
        )
        await ctx.step('still works', () =>
          producer.send({ topic, messages: [{ key: 'k', value: 'after', headers: { fine: 'yes' } }] }),
        )
      })
    },
  },
  {
    name: 'headers-prototype-names',
    about: 'header names that are Object.prototype keys: constructor, toString, hasOwnProperty, __proto__',
    topics: { h: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.h
        await ctx.step('constructor and toString', () =>
          producer.send({
            topic,
            messages: [
              { key: 'k', value: 'v', headers: { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v' } },
            ],
          }),
        )
        // An own property named __proto__, as JSON.parse makes from '{"__proto__": "p"}'.
        await ctx.step('__proto__', () =>
          producer.send({
            topic,
            messages: [{ key: 'k', value: 'v', headers: JSON.parse('{"__proto__":"p","after":"a"}') }],
          }),
        )
        await ctx.step('__proto__ array', () =>
          producer.send({ topic, messages: [{ key: 'k', value: 'v', headers: { ['__proto__']: ['x', 'y'] } }] }),
        )
      })
    },
  },
  {
    name: 'compression',
    about: 'compression none and gzip, on one send and on sendBatch',
    topics: { c: { partitions: 2 } },
    async run({ Kafka, CompressionTypes }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.c
        const messages = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'compressible '.repeat(10) + i }))
        await ctx.step('none', () => producer.send({ topic, compression: CompressionTypes.None, messages }))
        await ctx.step('gzip', () => producer.send({ topic, compression: CompressionTypes.GZIP, messages }))
        await ctx.step('gzip batch', () =>
          producer.sendBatch({
            compression: CompressionTypes.GZIP,
            topicMessages: [{ topic, messages: messages.slice(0, 5) }],
          }),
        )
      })
    },
  },
  {
    name: 'codec-registered',
    about: 'an application-registered Snappy codec (zlib underneath): the codec runs, the broker refuses snappy',
    topics: { c: { partitions: 1 } },
    async run({ Kafka, CompressionTypes, CompressionCodecs }, ctx) {
      const calls = { compress: 0, decompress: 0 }
      const previous = CompressionCodecs[CompressionTypes.Snappy]
      CompressionCodecs[CompressionTypes.Snappy] = zlibCodec(deflateSync, inflateSync, calls)
      try {
        const producer = new Kafka({
          ...ctx.config,
          retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
        }).producer()
        await connected(producer, ctx, async () => {
          await ctx.step('snappy', () =>
            producer.send({
              topic: ctx.topics.c,
              compression: CompressionTypes.Snappy,
              messages: [{ key: 'k', value: 'snappy '.repeat(20) }],
            }),
          )
        })
      } finally {
        CompressionCodecs[CompressionTypes.Snappy] = previous
      }
      ctx.note('codec calls', calls)
    },
  },
  {
    name: 'codec-app-gzip',
    about: "the application replaces KafkaJS's gzip codec with its own (counting calls)",
    topics: { c: { partitions: 1 } },
    async run({ Kafka, CompressionTypes, CompressionCodecs }, ctx) {
      const calls = { compress: 0, decompress: 0 }
      const previous = CompressionCodecs[CompressionTypes.GZIP]
      CompressionCodecs[CompressionTypes.GZIP] = zlibCodec(gzipSync, gunzipSync, calls)
      try {
        const producer = new Kafka(ctx.config).producer()
        await connected(producer, ctx, async () => {
          await ctx.step('gzip', () =>
            producer.send({
              topic: ctx.topics.c,
              compression: CompressionTypes.GZIP,
              messages: [{ key: 'k', value: 'gzip '.repeat(20) }],
            }),
          )
        })
      } finally {
        CompressionCodecs[CompressionTypes.GZIP] = previous
      }
      ctx.note('codec calls', calls)
    },
  },
  {
    name: 'codec-missing',
    about: 'LZ4 and ZSTD without a registered codec',
    topics: { c: { partitions: 1 } },
    async run({ Kafka, CompressionTypes }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('lz4', () =>
          producer.send({ topic: ctx.topics.c, compression: CompressionTypes.LZ4, messages: [{ value: 'lz4' }] }),
        )
        await ctx.step('zstd', () =>
          producer.send({ topic: ctx.topics.c, compression: CompressionTypes.ZSTD, messages: [{ value: 'zstd' }] }),
        )
        await ctx.step('unknown codec number', () =>
          producer.send({ topic: ctx.topics.c, compression: 9, messages: [{ value: 'nine' }] }),
        )
      })
    },
  },
  {
    name: 'acks',
    about: 'acks -1, 1 and 0, and what send() resolves with for each',
    topics: { a: { partitions: 2 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const messages = [
          { key: 'one', value: '1' },
          { key: 'two', value: '2' },
          { key: 'three', value: '3' },
        ]
        for (const acks of [-1, 1, 0])
          await ctx.step(`acks ${acks}`, () => producer.send({ topic: ctx.topics.a, acks, messages }))
        await ctx.step('acks 0 batch', () =>
          producer.sendBatch({ acks: 0, topicMessages: [{ topic: ctx.topics.a, messages }] }),
        )
      })
    },
  },
  {
    name: 'timeouts',
    about: 'the send timeout: 0, 1 ms and 30 s',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        for (const timeout of [0, 1, 30_000])
          await ctx.step(`timeout ${timeout}`, () =>
            producer.send({ topic: ctx.topics.t, timeout, messages: [{ key: 'k', value: `timeout ${timeout}` }] }),
          )
        await ctx.step('timeout 0 batch', () =>
          producer.sendBatch({
            timeout: 0,
            topicMessages: [{ topic: ctx.topics.t, messages: [{ key: 'k', value: 'batch' }] }],
          }),
        )
      })
    },
  },
  {
    name: 'idempotent',
    about: 'idempotent: true; isIdempotent(); acks other than -1 refused',
    topics: { i: { partitions: 2 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer({ idempotent: true, maxInFlightRequests: 1 })
      ctx.note('isIdempotent', producer.isIdempotent())
      await connected(producer, ctx, async () => {
        await ctx.step('send', () =>
          producer.send({
            topic: ctx.topics.i,
            messages: [
              { key: 'a', value: '1' },
              { key: 'b', value: '2' },
            ],
          }),
        )
        await ctx.step('send again', () => producer.send({ topic: ctx.topics.i, messages: [{ key: 'a', value: '3' }] }))
        await ctx.step('acks 1', () =>
          producer.send({ topic: ctx.topics.i, acks: 1, messages: [{ key: 'a', value: 'acks 1' }] }),
        )
        await ctx.step('acks 0', () =>
          producer.send({ topic: ctx.topics.i, acks: 0, messages: [{ key: 'a', value: 'acks 0' }] }),
        )
      })
    },
  },
  {
    name: 'idempotent-config',
    about: 'idempotent producers created with retries 0 and with default retries',
    topics: { i: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      await ctx.step('retries 0', () => void kafka.producer({ idempotent: true, retry: { retries: 0 } }))
      let producer
      await ctx.step('default retries', () => void (producer = kafka.producer({ idempotent: true })))
      if (producer) {
        await connected(producer, ctx, async () => {
          await ctx.step('send', () => producer.send({ topic: ctx.topics.i, messages: [{ key: 'a', value: '1' }] }))
        })
      }
    },
  },
  {
    name: 'custom-partitioner',
    about: 'a custom createPartitioner (by key length)',
    topics: { p: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const createPartitioner =
        () =>
        ({ partitionMetadata, message }) =>
          (message.key ? String(message.key).length : 0) % partitionMetadata.length
      const producer = new Kafka(ctx.config).producer({ createPartitioner })
      await connected(producer, ctx, async () => {
        await ctx.step('send', () =>
          producer.send({
            topic: ctx.topics.p,
            messages: ['a', 'bb', 'ccc', 'dddd', 'eeeee'].map((key) => ({ key, value: key })),
          }),
        )
      })
    },
  },
  {
    name: 'legacy-partitioner',
    about: "KafkaJS's LegacyPartitioner (a different hash than the default)",
    topics: { p: { partitions: 3 } },
    async run({ Kafka, Partitioners }, ctx) {
      const producer = new Kafka(ctx.config).producer({ createPartitioner: Partitioners.LegacyPartitioner })
      await connected(producer, ctx, async () => {
        await ctx.step('send', () =>
          producer.send({
            topic: ctx.topics.p,
            messages: Array.from({ length: 12 }, (_, i) => ({ key: `key-${i}`, value: `${i}` })),
          }),
        )
      })
    },
  },
  {
    name: 'unknown-topic-auto-created',
    about: 'a topic that does not exist, on a cluster that auto-creates topics',
    topics: { fresh: { create: false } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('send', () =>
          producer.send({ topic: ctx.topics.fresh, messages: [{ key: 'k', value: 'first' }] }),
        )
        await ctx.step('send again', () =>
          producer.send({ topic: ctx.topics.fresh, messages: [{ key: 'k', value: 'second' }] }),
        )
      })
    },
  },
  {
    name: 'unknown-topic-producer-no-auto-create',
    about: 'a topic that does not exist, with allowAutoTopicCreation: false on the producer',
    topics: { fresh: { create: false } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka({
        ...ctx.config,
        retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
      }).producer({ allowAutoTopicCreation: false })
      await connected(producer, ctx, async () => {
        await ctx.step('send', () => producer.send({ topic: ctx.topics.fresh, messages: [{ key: 'k', value: 'v' }] }))
      })
    },
  },
  {
    name: 'unknown-topic-cluster-no-auto-create',
    about: 'a topic that does not exist, on a cluster with auto.create.topics.enable=false',
    cluster: 'strict',
    topics: { fresh: { create: false }, known: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka({
        ...ctx.config,
        retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
      }).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('send', () => producer.send({ topic: ctx.topics.fresh, messages: [{ key: 'k', value: 'v' }] }))
        await ctx.step('send to a known topic', () =>
          producer.send({ topic: ctx.topics.known, messages: [{ key: 'k', value: 'v' }] }),
        )
      })
    },
  },
  {
    name: 'invalid-topic-names',
    about: 'topic names Kafka refuses (characters, length) and an empty one',
    topics: {},
    async run({ Kafka }, ctx) {
      const producer = new Kafka({
        ...ctx.config,
        retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
      }).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('spaces and !', () => producer.send({ topic: 'not a valid topic!', messages: [{ value: 'v' }] }))
        await ctx.step('too long', () => producer.send({ topic: 'x'.repeat(250), messages: [{ value: 'v' }] }))
        await ctx.step('empty', () => producer.send({ topic: '', messages: [{ value: 'v' }] }))
      })
    },
  },
  {
    name: 'record-too-large',
    about: 'a record over the broker message.max.bytes, alone and with a small one in the same send',
    topics: { big: { partitions: 1 }, small: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka({
        ...ctx.config,
        retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
      }).producer()
      await connected(producer, ctx, async () => {
        const huge = Buffer.alloc(1_100_000, 7)
        await ctx.step('too large', () =>
          producer.send({ topic: ctx.topics.big, messages: [{ key: 'k', value: huge }] }),
        )
        await ctx.step('too large beside a small one', () =>
          producer.sendBatch({
            topicMessages: [
              { topic: ctx.topics.small, messages: [{ key: 's', value: 'small' }] },
              { topic: ctx.topics.big, messages: [{ key: 'k', value: huge }] },
            ],
          }),
        )
        await ctx.step('then a small one', () =>
          producer.send({ topic: ctx.topics.small, messages: [{ key: 's', value: 'after' }] }),
        )
      })
    },
  },
  {
    name: 'send-after-disconnect',
    about: 'send before connect, after disconnect, and after a reconnect',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      ctx.listen(producer)
      await ctx.step('send before connect', () =>
        producer.send({ topic: ctx.topics.t, messages: [{ value: 'before' }] }),
      )
      await ctx.step('connect', () => producer.connect())
      await ctx.step('send', () => producer.send({ topic: ctx.topics.t, messages: [{ value: 'during' }] }))
      await ctx.step('disconnect', () => producer.disconnect())
      await ctx.step('send after disconnect', () =>
        producer.send({ topic: ctx.topics.t, messages: [{ value: 'after' }] }),
      )
      await ctx.step('sendBatch after disconnect', () =>
        producer.sendBatch({ topicMessages: [{ topic: ctx.topics.t, messages: [{ value: 'after' }] }] }),
      )
      await ctx.step('disconnect again', () => producer.disconnect())
      await ctx.step('reconnect', () => producer.connect())
      await ctx.step('send after reconnect', () =>
        producer.send({ topic: ctx.topics.t, messages: [{ value: 'reconnected' }] }),
      )
      await ctx.step('final disconnect', () => producer.disconnect())
    },
  },
  {
    name: 'send-batch-shapes',
    about: 'sendBatch over several topics, with an empty topicMessages array and empty messages arrays',
    topics: { a: { partitions: 2 }, b: { partitions: 1 }, c: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const { a, b, c } = ctx.topics
        await ctx.step('three topics', () =>
          producer.sendBatch({
            topicMessages: [
              {
                topic: a,
                messages: [
                  { key: 'a1', value: 'a1' },
                  { key: 'a2', value: 'a2' },
                ],
              },
              { topic: b, messages: [{ key: 'b1', value: 'b1' }] },
              {
                topic: c,
                messages: [
                  { key: 'c1', value: 'c1' },
                  { key: 'c2', value: 'c2' },
                  { key: 'c3', value: 'c3' },
                ],
              },
            ],
          }),
        )
        await ctx.step('the same topic twice', () =>
          producer.sendBatch({
            topicMessages: [
              { topic: a, messages: [{ key: 'a1', value: 'first' }] },
              { topic: a, messages: [{ key: 'a1', value: 'second' }] },
            ],
          }),
        )
        await ctx.step('empty topicMessages', () => producer.sendBatch({ topicMessages: [] }))
        await ctx.step('a topic with no messages', () =>
          producer.sendBatch({
            topicMessages: [
              { topic: a, messages: [] },
              { topic: b, messages: [{ key: 'b2', value: 'b2' }] },
            ],
          }),
        )
        await ctx.step('send with no messages', () => producer.send({ topic: a, messages: [] }))
      })
    },
  },
  {
    name: 'many-records',
    about: '500 keyed records in one sendBatch over two topics, then 10 sends of 10',
    topics: { a: { partitions: 3 }, b: { partitions: 2 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const { a, b } = ctx.topics
        const records = (prefix, n) =>
          Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i % 37}`, value: `${prefix}-${i}` }))
        await ctx.step('sendBatch 500', () =>
          producer.sendBatch({
            topicMessages: [
              { topic: a, messages: records('a', 300) },
              { topic: b, messages: records('b', 200) },
            ],
          }),
        )
        for (let i = 0; i < 10; i++)
          await ctx.step('send 10', () => producer.send({ topic: a, messages: records(`s${i}`, 10) }))
      })
    },
  },
  {
    name: 'concurrent-sends',
    about: '20 sends in flight at once, all to one key, and the order they land in',
    topics: { t: { partitions: 3 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('warm', () => producer.send({ topic: ctx.topics.t, messages: [{ key: 'same', value: 'warm' }] }))
        await ctx.step('20 at once', () =>
          Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              producer.send({ topic: ctx.topics.t, messages: [{ key: 'same', value: `c${i}` }] }),
            ),
          ),
        )
      })
    },
  },
  {
    name: 'explicit-timestamps',
    about: 'records with their own timestamps, as strings (what KafkaJS types) and numbers',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('string timestamps', () =>
          producer.send({
            topic: ctx.topics.t,
            messages: [
              { key: 'k', value: 'old', timestamp: '1500000000000' },
              { key: 'k', value: 'older', timestamp: '1400000000000' },
            ],
          }),
        )
        await ctx.step('number timestamp', () =>
          producer.send({ topic: ctx.topics.t, messages: [{ key: 'k', value: 'number', timestamp: 1600000000000 }] }),
        )
      })
    },
  },
  {
    name: 'invalid-arguments',
    about:
      'calls KafkaJS refuses: no record, no topic, messages not an array, a message without value, a number as value',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        const topic = ctx.topics.t
        await ctx.step('send()', () => producer.send())
        await ctx.step('no topic', () => producer.send({ messages: [{ value: 'v' }] }))
        await ctx.step('messages not an array', () => producer.send({ topic, messages: 'v' }))
        await ctx.step('message without value', () => producer.send({ topic, messages: [{ key: 'k' }] }))
        await ctx.step('number value', () => producer.send({ topic, messages: [{ key: 'k', value: 42 }] }))
        await ctx.step('number key', () => producer.send({ topic, messages: [{ key: 42, value: 'v' }] }))
        await ctx.step('object value', () =>
          producer.send({ topic, messages: [{ key: 'k', value: { an: 'object' } }] }),
        )
        await ctx.step('sendBatch()', () => producer.sendBatch())
        await ctx.step('sendBatch without topic', () =>
          producer.sendBatch({ topicMessages: [{ messages: [{ value: 'v' }] }] }),
        )
        await ctx.step('still works', () => producer.send({ topic, messages: [{ key: 'k', value: 'ok' }] }))
      })
    },
  },
  {
    name: 'transaction-commit',
    about: 'a transaction that sends to two topics and commits',
    topics: { a: { partitions: 2 }, b: { partitions: 1 } },
    ids: ['txn'],
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer({
        transactionalId: ctx.ids.txn,
        idempotent: true,
        maxInFlightRequests: 1,
      })
      await connected(producer, ctx, async () => {
        const transaction = await ctx.step('transaction', () => producer.transaction())
        if (!transaction) return
        await ctx.step('send a', () =>
          transaction.send({
            topic: ctx.topics.a,
            messages: [
              { key: 'k1', value: 'in txn' },
              { key: 'k2', value: 'in txn' },
            ],
          }),
        )
        await ctx.step('sendBatch b', () =>
          transaction.sendBatch({
            topicMessages: [{ topic: ctx.topics.b, messages: [{ key: 'k', value: 'in txn' }] }],
          }),
        )
        await ctx.step('commit', () => transaction.commit())
        ctx.note('isActive after commit', transaction.isActive())
      })
    },
  },
  {
    name: 'transaction-abort',
    about: 'a transaction that aborts, then a plain send on the same producer',
    topics: { a: { partitions: 1 } },
    ids: ['txn'],
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer({
        transactionalId: ctx.ids.txn,
        idempotent: true,
        maxInFlightRequests: 1,
      })
      await connected(producer, ctx, async () => {
        const transaction = await ctx.step('transaction', () => producer.transaction())
        if (!transaction) return
        await ctx.step('send', () =>
          transaction.send({ topic: ctx.topics.a, messages: [{ key: 'k', value: 'aborted' }] }),
        )
        await ctx.step('abort', () => transaction.abort())
        await ctx.step('plain send on a transactional producer', () =>
          producer.send({ topic: ctx.topics.a, messages: [{ key: 'k', value: 'outside' }] }),
        )
      })
    },
  },
  {
    name: 'transaction-without-id',
    about: 'transaction() on a producer without a transactionalId',
    topics: {},
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      await connected(producer, ctx, async () => {
        await ctx.step('transaction', () => producer.transaction())
      })
    },
  },
  {
    name: 'events',
    about: "producer events: the names, connect/disconnect/request payloads, a remover, an unknown event's error",
    topics: { t: { partitions: 2 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      ctx.note('events', producer.events)
      ctx.listen(producer)
      const seen = []
      const remove = producer.on(producer.events.CONNECT, (event) => seen.push(event.type))
      ctx.note('on() returns', typeof remove)
      await ctx.step('unknown event', () => producer.on('producer.nothing', () => {}))
      await connected(producer, ctx, async () => {
        await ctx.step('send', () => producer.send({ topic: ctx.topics.t, messages: [{ key: 'k', value: 'v' }] }))
      })
      remove()
      await connected(producer, ctx, async () => {})
      ctx.note('connect listener calls', seen)
    },
  },
  {
    name: 'event-listener-throws',
    about: 'a connect listener that throws, and one that rejects',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      ctx.listen(producer)
      const remove = producer.on(producer.events.CONNECT, () => {
        throw new Error('listener failed')
      })
      await ctx.step('connect with a throwing listener', () => producer.connect())
      await ctx.step('send', () =>
        producer.send({ topic: ctx.topics.t, messages: [{ key: 'k', value: 'after a throwing listener' }] }),
      )
      await ctx.step('disconnect', () => producer.disconnect())
      remove()
      producer.on(producer.events.CONNECT, async () => {
        throw new Error('async listener failed')
      })
      await connected(producer, ctx, async () => {
        await ctx.step('send again', () =>
          producer.send({ topic: ctx.topics.t, messages: [{ key: 'k', value: 'after a rejecting listener' }] }),
        )
      })
    },
  },
  {
    name: 'two-producers',
    about: 'two producers of one Kafka client writing to the same partition, interleaved',
    topics: { t: { partitions: 1 } },
    async run({ Kafka }, ctx) {
      const kafka = new Kafka(ctx.config)
      const first = kafka.producer()
      const second = kafka.producer()
      ctx.listen(first, 'first')
      ctx.listen(second, 'second')
      await ctx.step('connect both', () => Promise.all([first.connect(), second.connect()]))
      for (let i = 0; i < 5; i++) {
        await ctx.step('first', () => first.send({ topic: ctx.topics.t, messages: [{ value: `first-${i}` }] }))
        await ctx.step('second', () => second.send({ topic: ctx.topics.t, messages: [{ value: `second-${i}` }] }))
      }
      await ctx.step('disconnect both', () => Promise.all([first.disconnect(), second.disconnect()]))
    },
  },
  {
    name: 'producer-surface',
    about:
      'what an application reads off a producer: its API, its own properties, isIdempotent(), logger(), and a disconnect that was never connected',
    topics: {},
    async run({ Kafka }, ctx) {
      const producer = new Kafka(ctx.config).producer()
      const api = [
        'connect',
        'disconnect',
        'isIdempotent',
        'events',
        'on',
        'send',
        'sendBatch',
        'transaction',
        'logger',
      ]
      ctx.note('api', Object.fromEntries(api.map((name) => [name, typeof producer[name]])))
      ctx.note('own properties', Object.keys(producer).sort())
      ctx.note('isIdempotent', producer.isIdempotent())
      ctx.note('logger methods', Object.keys(producer.logger()).sort())
      await ctx.step('disconnect without connect', () => producer.disconnect())
    },
  },
  // Consumer programs, in a file of their own.
  ...require('./corpus-consumers.cjs').programs,
]

module.exports = { programs }

// A traced KafkaJS consumer program whose consumers run in sidecar mode with no sidecar: after
// the fallback time it consumes directly, as KafkaJS's own consumer. It consumes the topic's
// records and prints its process spans: one per record, as KafkaJS's (the application's run
// config was wrapped for the sidecar consumer; the direct consumer must not wrap it again).
async function run({ Kafka, logLevel }, { brokers, topic }) {
  const expected = Number(process.env.RECORDS)
  const kafka = new Kafka({
    clientId: 'traced-consumer',
    brokers,
    logLevel: logLevel.NOTHING,
    sidecar: {
      consumerMode: 'sidecar',
      address: process.env.NO_SIDECAR_ADDRESS,
      connectTimeoutMs: 200,
      livenessTimeoutMs: 500,
      consumerFallbackAfterMs: 300,
    },
  })
  const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  let seen = 0
  const all = new Promise((resolve) => {
    consumer.run({
      eachMessage: async () => {
        if (++seen === expected) resolve()
      },
    })
  })
  await all
  await consumer.disconnect()
  const spans = globalThis.finishedSpans().filter((s) => s.name.startsWith('process '))
  return {
    records: seen,
    processSpans: spans.length,
    withClusterId: spans.filter((s) => typeof s.attributes['messaging.kafka.cluster.id'] === 'string').length,
  }
}

module.exports = { run }

// A traced KafkaJS program whose sends are refused before anything is written: bad arguments
// (KafkaJS's instrumented send throws some synchronously), a message without value, acks 1 on an
// idempotent producer, a send after disconnect. It prints how each call ended, the spans, and
// the headers the messages ended with.
const api = require('@opentelemetry/api')

/** How a call ended: thrown synchronously, resolved, or rejected (with class and message). */
async function outcome(call) {
  let pending
  try {
    pending = call()
  } catch (error) {
    return { sync: true, error: `${error.constructor.name}: ${error.message}` }
  }
  try {
    await pending
    return { sync: false, ok: true }
  } catch (error) {
    return { sync: false, error: `${error.constructor.name}: ${error.message}` }
  }
}

async function run({ Kafka, logLevel }, { brokers, topic }) {
  const kafka = new Kafka({ clientId: 'traced-app', brokers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ idempotent: true })
  await producer.connect()
  const app = api.trace.getTracer('app').startSpan('handle-request')
  const withoutValue = { key: 'k' }
  const outcomes = await api.context.with(api.trace.setSpan(api.context.active(), app), async () => {
    const seen = {}
    seen.written = await outcome(() => producer.send({ topic, messages: [{ key: 'first', value: 'v' }] }))
    seen['send()'] = await outcome(() => producer.send())
    seen['messages not an array'] = await outcome(() => producer.send({ topic, messages: 'v' }))
    seen['sendBatch()'] = await outcome(() => producer.sendBatch())
    seen['message without value'] = await outcome(() => producer.send({ topic, messages: [withoutValue] }))
    seen['acks 1 on an idempotent producer'] = await outcome(() =>
      producer.send({ topic, acks: 1, messages: [{ key: 'a', value: 'v' }] }),
    )
    await producer.disconnect()
    seen['after disconnect'] = await outcome(() =>
      producer.sendBatch({ topicMessages: [{ topic, messages: [{ key: 'late', value: 'v' }] }] }),
    )
    return seen
  })
  app.end()
  const spans = globalThis.finishedSpans().filter((s) => s !== app)
  return {
    outcomes,
    spans: spans.map((s) => ({
      name: s.name.replace(topic, '<topic>'),
      key: s.attributes['messaging.kafka.message.key'],
      clusterId: 'messaging.kafka.cluster.id' in s.attributes,
      status: s.status,
      errorType: s.attributes['error.type'],
      childOfTheAppSpan: s.parentSpanContext?.spanId === app.spanContext().spanId,
    })),
    headersOfTheMessageWithoutValue: Object.keys(withoutValue.headers ?? {}),
  }
}

module.exports = { run }

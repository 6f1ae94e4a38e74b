// An ordinary KafkaJS producer program, traced: it sends inside an application span and prints
// what a tracing backend would receive (spans) and what it sent (messages, headers injected).
const api = require('@opentelemetry/api')

async function run({ Kafka, logLevel }, { brokers, topic }) {
  const kafka = new Kafka({ clientId: 'traced-app', brokers, logLevel: logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  const sent = []
  const app = api.trace.getTracer('app').startSpan('handle-request')
  await api.context.with(api.trace.setSpan(api.context.active(), app), async () => {
    const first = [
      { key: 'k1', value: 'v1' },
      { value: 'v2', partition: 0 },
      { key: 'k3', value: null },
    ]
    await producer.send({ topic, messages: first })
    const second = [{ value: 'v4', headers: { app: 'x' } }]
    const third = [{ key: 'k5', value: 'v5' }]
    await producer.sendBatch({
      topicMessages: [
        { topic, messages: second },
        { topic, messages: third },
      ],
    })
    sent.push(...first, ...second, ...third)
  })
  app.end()
  await producer.disconnect()
  const spans = globalThis.finishedSpans().filter((s) => s !== app && s.name !== 'handle-request')
  return {
    app: app.spanContext(),
    spans: spans.map((s) => ({
      name: s.name,
      kind: s.kind,
      attributes: s.attributes,
      status: s.status,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId ?? s.parentSpanId,
    })),
    headers: sent.map((m) => m.headers),
  }
}

module.exports = { run }

/**
 * The same package from CommonJS TypeScript (this file compiles to require() calls): the
 * `require` types entry (dist/cjs/index.d.ts) must give KafkaJS's API too.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- how CommonJS TypeScript imports a package
import client = require('@kafka-sidecar/client')

async function produceFromCommonJS(): Promise<client.RecordMetadata[]> {
  const kafka = new client.Kafka({ clientId: 'cjs-app', brokers: ['localhost:9092'], logLevel: client.logLevel.ERROR })
  const producer: client.Producer = kafka.producer({ createPartitioner: client.Partitioners.DefaultPartitioner })
  const message: client.Message = { key: 'k', value: 'v' }
  await producer.connect()
  try {
    return await producer.send({ topic: 'topic', messages: [message], compression: client.CompressionTypes.GZIP })
  } catch (error) {
    if (error instanceof client.KafkaJSProtocolError) throw new Error(`${error.type} ${error.code}`)
    if (error instanceof client.KafkaJSError && error.retriable) return []
    throw error
  } finally {
    await producer.disconnect()
  }
}

export = { produceFromCommonJS }

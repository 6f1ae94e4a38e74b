/**
 * Wrong KafkaJS usage must stay wrong with the client: every line after a `@ts-expect-error`
 * is a type error (tsc reports an unused directive otherwise). types.test.ts also compiles a
 * copy without the directives and checks that exactly these lines fail.
 */
import { CompressionTypes, Kafka } from '@kafka-sidecar/client'

export async function wrong(): Promise<void> {
  const kafka = new Kafka({ clientId: 'app', brokers: ['localhost:9092'] })
  const producer = kafka.producer()
  // @ts-expect-error topic must be a string
  await producer.send({ topic: 1, messages: [{ value: 'x' }] })
  // @ts-expect-error a message needs a value
  await producer.send({ topic: 't', messages: [{ key: 'k' }] })
  // @ts-expect-error a value is a string, a Buffer or null
  await producer.send({ topic: 't', messages: [{ value: 42 }] })
  // @ts-expect-error topicMessages entries need messages
  await producer.sendBatch({ topicMessages: [{ topic: 't' }] })
  // @ts-expect-error compression is a CompressionTypes value
  await producer.send({ topic: 't', messages: [], compression: 'gzip' })
  // @ts-expect-error idempotent is a boolean
  kafka.producer({ idempotent: 'yes' })
  // @ts-expect-error brokers are required
  new Kafka({ clientId: 'app' })
  // @ts-expect-error the mode is 'direct' or 'sidecar'
  new Kafka({ brokers: [], sidecar: { mode: 'proxy' } })
  // @ts-expect-error no such compression type
  void CompressionTypes.Brotli
  // @ts-expect-error a dead-letter topic is required
  kafka.consumer({ groupId: 'g', deadLetter: { attempts: 3 } })
}

// An ordinary KafkaJS service: its own log format, gzip, headers, producer events.
import { CompressionTypes, Kafka, logLevel, type LogEntry, type RecordMetadata } from '@kafka-sidecar/client'

export interface Order {
  readonly id: string
  readonly customer: string
  readonly amountCents: number
}

export function createOrderService(brokers: string[], log: (line: string) => void) {
  const kafka = new Kafka({
    clientId: 'order-service',
    brokers,
    logLevel: logLevel.INFO,
    logCreator: () => (entry: LogEntry) => log(`[${entry.namespace}] ${entry.log.message}`),
  })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  producer.on(producer.events.CONNECT, () => log('producer connected'))
  producer.on(producer.events.DISCONNECT, () => log('producer disconnected'))

  return {
    start: () => producer.connect(),
    stop: () => producer.disconnect(),
    placeOrders: (orders: Order[]): Promise<RecordMetadata[]> =>
      producer.send({
        topic: 'orders',
        compression: CompressionTypes.GZIP,
        messages: orders.map((order) => ({
          key: order.customer,
          value: JSON.stringify(order),
          headers: { 'content-type': 'application/json', 'order-id': order.id },
        })),
      }),
  }
}

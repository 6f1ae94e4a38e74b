/**
 * Runs the same order service twice on one embedded cluster: as written for KafkaJS
 * (src/before), then after the one-line import change (src/after) with KAFKA_SIDECAR_MODE=sidecar.
 * Prints what each logged and wrote, and checks that both wrote the same records to the same
 * partitions with the same headers.
 *
 *   pnpm --filter @kafka-sidecar/example-migrate-from-kafkajs start
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EmbeddedKafka, type EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import { startSidecar } from '@kafka-sidecar/sidecar'
import { createOrderService as before } from './before/order-service.js'
import { createOrderService as after } from './after/order-service.js'

const orders = Array.from({ length: 12 }, (_, i) => ({
  id: `order-${i}`,
  customer: `customer-${i % 4}`,
  amountCents: 1000 + i,
}))

function summary(records: EmbeddedRecord[]): string[] {
  return records
    .map(
      (r) =>
        `p${r.partition} ${r.key?.toString()} ${r.value?.toString()} ${r.headers.map((h) => `${h.key}=${h.value?.toString()}`).join(',')}`,
    )
    .sort()
}

const cluster = await EmbeddedKafka.start({ brokers: 3 })
const dir = mkdtempSync(join(tmpdir(), 'migrate-example-'))
const socket = `unix://${join(dir, 'sidecar.sock')}`
const sidecar = await startSidecar({ brokers: cluster.bootstrapServers, listen: socket, http: null, logLevel: 'error' })
try {
  await sidecar.ready
  await cluster.createTopic({ topic: 'orders', partitions: 6 })

  console.log("1. before: import { Kafka, ... } from 'kafkajs'")
  const beforeService = before(cluster.bootstrapServers, (line) => console.log(`   log: ${line}`))
  await beforeService.start()
  const beforeResult = await beforeService.placeOrders(orders)
  console.log(`   send resolved: ${JSON.stringify(beforeResult)}`)
  await beforeService.stop()
  const written = summary(await cluster.records('orders'))

  console.log("\n2. after: import { Kafka, ... } from '@kafka-sidecar/client', KAFKA_SIDECAR_MODE=sidecar")
  process.env.KAFKA_SIDECAR_MODE = 'sidecar'
  process.env.KAFKA_SIDECAR_ADDRESS = socket
  await cluster.deleteTopic('orders')
  await cluster.createTopic({ topic: 'orders', partitions: 6 })
  const afterService = after(cluster.bootstrapServers, (line) => console.log(`   log: ${line}`))
  await afterService.start()
  const afterResult = await afterService.placeOrders(orders)
  console.log(`   send resolved: ${JSON.stringify(afterResult)}`)
  await afterService.stop()
  const writtenAfter = summary(await cluster.records('orders'))

  const same = JSON.stringify(written) === JSON.stringify(writtenAfter)
  console.log(
    `\n${written.length} records before, ${writtenAfter.length} after: ${same ? 'the same keys, values, headers and partitions' : 'DIFFERENT'}`,
  )
  if (!same) process.exitCode = 1
} finally {
  await sidecar.stop()
  await cluster.stop()
  rmSync(dir, { recursive: true, force: true })
}

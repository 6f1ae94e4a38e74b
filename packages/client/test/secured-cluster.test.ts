/**
 * Against a cluster that authenticates, the two paths each connect with their own credentials:
 * the sidecar with its files (as a pod mounts them), the application's direct path with its own
 * KafkaJS `ssl` and `sasl`, as before the sidecar. A sidecar that cannot connect or authenticate is
 * not ready, so the application produces directly, with its own credentials, and nothing is lost;
 * once the sidecar's credential is fixed (a rotated file, no restart) sends go back through it.
 * Real parts only: the client's KafkaJS, the sidecar's KafkaJS, embedded-kafka over TCP with TLS.
 */
import { rename, writeFile } from 'node:fs/promises'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { startSidecar, type RunningSidecar, type StartOptions } from '@kafka-sidecar/sidecar'
import {
  clientCertificateFiles,
  kafkajsSsl,
  randomTopic,
  socketPath,
  startCluster,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import type { KafkaConfig } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Kafka, logLevel, type DeliveryReport, type SidecarProducer } from '../src/index.js'

const T = { timeout: 45_000 }

/** Replaces a file's content at once, as Kubernetes swaps a mounted Secret's files. */
async function rotate(path: string, content: string): Promise<void> {
  await writeFile(`${path}.new`, content)
  await rename(`${path}.new`, path)
}

/** A sidecar in front of `cluster`, not awaited ready; stopped when the test ends. */
async function sidecarFor(cluster: EmbeddedKafka, options: StartOptions): Promise<RunningSidecar> {
  const sidecar = await startSidecar({
    brokers: cluster.bootstrapServers,
    listen: `unix://${await socketPath()}`,
    http: 'off',
    logLevel: 'nothing',
    shutdownTimeoutMs: 1_000,
    ...options,
  })
  onTestFinished(async () => {
    await sidecar.stop()
  })
  return sidecar
}

/** The application's producer in sidecar mode, with its own Kafka security settings; its reports kept. */
async function applicationProducer(
  cluster: EmbeddedKafka,
  sidecar: RunningSidecar,
  security: Pick<KafkaConfig, 'ssl' | 'sasl'>,
): Promise<{ producer: SidecarProducer; reports: DeliveryReport[] }> {
  const reports: DeliveryReport[] = []
  const kafka = new Kafka({
    clientId: 'secured-app',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
    ...security,
    sidecar: {
      mode: 'sidecar',
      address: sidecar.address,
      connectTimeoutMs: 1_000,
      breaker: { resetTimeoutMs: 500 },
    },
  })
  const producer = kafka.producer({ onDelivery: (report) => void reports.push(report) })
  onTestFinished(() => producer.disconnect().catch(() => {}))
  await producer.connect()
  return { producer, reports }
}

/** Sends `value` and returns the path its delivery report names. */
async function sendAndReport(
  producer: SidecarProducer,
  reports: DeliveryReport[],
  topic: string,
  value: string,
): Promise<DeliveryReport['path']> {
  const before = reports.length
  await producer.send({ topic, messages: [{ value }] })
  await waitFor(`the report of ${value}`, () => reports.length > before)
  const report = reports[before]!
  expect(report.error).toBeNull()
  return report.path
}

describe('a secured cluster: the sidecar with its files, the direct path with the application’s own ssl/sasl', () => {
  it(
    'mutual TLS: a sidecar whose certificate the brokers refuse is not ready, the application produces directly with its own certificate, and the sidecar’s rotated certificate brings sends back to it',
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, mtls: true })
      const stranger = await startCluster({ brokers: 1, tls: true })
      const topic = randomTopic('mtls')
      await cluster.createTopic({ topic, partitions: 1 })
      const files = await clientCertificateFiles(cluster, { commonName: 'sidecar' })
      const refused = await stranger.issueClientCertificate({ commonName: 'sidecar' })
      await rotate(files.certFile, refused.certificate)
      await rotate(files.keyFile, refused.privateKey)
      const sidecar = await sidecarFor(cluster, {
        ssl: true,
        sslCaFile: files.caFile,
        sslCertFile: files.certFile,
        sslKeyFile: files.keyFile,
      })
      const app = await cluster.issueClientCertificate({ commonName: 'orders-api' })
      const { producer, reports } = await applicationProducer(cluster, sidecar, { ssl: kafkajsSsl(cluster, app) })

      expect(producer.breakerState).toBe('open')
      expect(await sendAndReport(producer, reports, topic, 'direct, own certificate')).toBe('direct')

      const valid = await cluster.issueClientCertificate({ commonName: 'sidecar' })
      await rotate(files.keyFile, valid.privateKey)
      await rotate(files.certFile, valid.certificate)
      await within(sidecar.ready, 20_000, 'the sidecar ready after the rotation')
      // The breaker's half-open probe takes the sidecar back with one of the next sends.
      const sent = ['direct, own certificate']
      await waitFor(
        'a send through the sidecar',
        async () => {
          sent.push(`after the rotation ${sent.length}`)
          return (await sendAndReport(producer, reports, topic, sent.at(-1)!)) === 'sidecar'
        },
        10_000,
      )
      expect(producer.breakerState).toBe('closed')
      expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(sent)
    },
  )
})

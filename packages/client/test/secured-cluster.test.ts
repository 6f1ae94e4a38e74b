/**
 * Against a cluster that authenticates, the two paths each connect with their own credentials:
 * the sidecar with its files (as a pod mounts them), the application's direct path with its own
 * KafkaJS `ssl` and `sasl`, as before the sidecar. A sidecar that cannot connect or authenticate is
 * not ready, so the application produces directly, with its own credentials, and nothing is lost;
 * once the sidecar's credential is fixed (a rotated file, no restart) sends go back through it.
 * Real parts only: the client's KafkaJS, the sidecar's KafkaJS, embedded-kafka over TCP with TLS.
 */
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { startSidecar, type RunningSidecar, type StartOptions } from '@kafka-sidecar/sidecar'
import {
  clientCertificateFiles,
  fileWith,
  kafkajsSsl,
  randomTopic,
  replaceFile,
  socketPath,
  startCluster,
  waitFor,
  within,
} from '@kafka-sidecar/test-support'
import type { KafkaConfig } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Kafka, logLevel, type DeliveryReport, type SidecarProducer } from '../src/index.js'

const T = { timeout: 45_000 }

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

/**
 * Once the sidecar's credential is fixed: it gets ready, and the breaker's half-open probe takes it
 * back with one of the next sends. Every record sent, directly or not, is in the topic once, in order.
 */
async function backThroughTheSidecar(
  cluster: EmbeddedKafka,
  sidecar: RunningSidecar,
  app: { producer: SidecarProducer; reports: DeliveryReport[] },
  topic: string,
  sentDirectly: string,
): Promise<void> {
  await within(sidecar.ready, 20_000, 'the sidecar ready after the rotation')
  const sent = [sentDirectly]
  await waitFor(
    'a send through the sidecar',
    async () => {
      sent.push(`after the rotation ${sent.length}`)
      return (await sendAndReport(app.producer, app.reports, topic, sent.at(-1)!)) === 'sidecar'
    },
    10_000,
  )
  expect(app.producer.breakerState).toBe('closed')
  expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(sent)
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
      await replaceFile(files.certFile, refused.certificate)
      await replaceFile(files.keyFile, refused.privateKey)
      const sidecar = await sidecarFor(cluster, {
        ssl: true,
        sslCaFile: files.caFile,
        sslCertFile: files.certFile,
        sslKeyFile: files.keyFile,
      })
      const own = await cluster.issueClientCertificate({ commonName: 'orders-api' })
      const app = await applicationProducer(cluster, sidecar, { ssl: kafkajsSsl(cluster, own) })

      expect(app.producer.breakerState).toBe('open')
      expect(await sendAndReport(app.producer, app.reports, topic, 'direct, own certificate')).toBe('direct')

      const valid = await cluster.issueClientCertificate({ commonName: 'sidecar' })
      await replaceFile(files.keyFile, valid.privateKey)
      await replaceFile(files.certFile, valid.certificate)
      await backThroughTheSidecar(cluster, sidecar, app, topic, 'direct, own certificate')
    },
  )

  it(
    'SASL SCRAM-SHA-512 over TLS: a sidecar with a wrong password is not ready, the application produces directly with its own sasl, and the rotated password file brings sends back to the sidecar',
    T,
    async () => {
      const cluster = await startCluster({
        brokers: 1,
        tls: true,
        sasl: [
          { mechanism: 'scram-sha-512', username: 'sidecar', password: 'sidecar-pw' },
          { mechanism: 'scram-sha-512', username: 'orders-api', password: 'app-pw' },
        ],
      })
      const topic = randomTopic('scram')
      await cluster.createTopic({ topic, partitions: 1 })
      const passwordFile = await fileWith('not-the-password\n')
      const sidecar = await sidecarFor(cluster, {
        ssl: true,
        sslCaFile: await fileWith(cluster.caCertificate!, 'ca.pem'),
        saslMechanism: 'scram-sha-512',
        saslUsername: 'sidecar',
        saslPasswordFile: passwordFile,
      })
      const app = await applicationProducer(cluster, sidecar, {
        ssl: kafkajsSsl(cluster),
        sasl: { mechanism: 'scram-sha-512', username: 'orders-api', password: 'app-pw' },
      })

      expect(app.producer.breakerState).toBe('open')
      expect(await sendAndReport(app.producer, app.reports, topic, 'direct, own password')).toBe('direct')

      await replaceFile(passwordFile, 'sidecar-pw\n')
      await backThroughTheSidecar(cluster, sidecar, app, topic, 'direct, own password')
    },
  )
})

/**
 * TLS listeners as Kafka's SSL listener behaves: a client that trusts the cluster's CA produces and
 * consumes; one that does not, or speaks plaintext, or (mutual TLS) has no certificate the CA
 * signed, is refused at the handshake, and the broker keeps serving everyone else.
 */
import { connect as connectTls } from 'node:tls'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  certificateFiles,
  clientCertificateFiles,
  connectedProducer,
  consumeWithKafkaJS,
  kafkaFor,
  kafkajsSsl,
  randomTopic,
  startCluster,
  tempDir,
  within,
} from '@kafka-sidecar/test-support'
import { describe, expect, it } from 'vitest'
import { EmbeddedKafka, EmbeddedKafkaConfigError, type EmbeddedKafkaOptions } from '../src/index.js'
import { ApiVersions } from '../src/apis/18-api-versions.js'
import { CertificateAuthority } from '../src/tls/certificate-authority.js'
import { encodeRequest, openRaw } from './raw-client.js'

const FAIL_FAST = { retry: { retries: 0 }, connectionTimeout: 3_000 }

async function produceOne(cluster: EmbeddedKafka, ssl: ReturnType<typeof kafkajsSsl>, value = 'over-tls') {
  const topic = randomTopic('tls')
  const producer = await connectedProducer(kafkaFor(cluster, 'tls-test', { ssl }))
  await producer.send({ topic, messages: [{ value }] })
  return topic
}

async function expectRefused(cluster: EmbeddedKafka, ssl: object | boolean, reason: RegExp): Promise<void> {
  const producer = kafkaFor(cluster, 'refused', { ssl: ssl as never, ...FAIL_FAST }).producer()
  await expect(producer.connect()).rejects.toThrow(reason)
  await producer.disconnect()
}

/** A TLS connection presenting `options` (a client certificate or none): 'ok' once an ApiVersions request is answered. */
function answeredOverTls(port: number, options: object): Promise<'ok' | Error> {
  return new Promise((resolve) => {
    const socket = connectTls({ host: '127.0.0.1', port, ...options })
    // TLS 1.3 refuses a client certificate after the client's handshake is done: the request is
    // then met by an alert, not an answer.
    socket.once('secureConnect', () => socket.write(encodeRequest(ApiVersions, 0, 1, {})))
    socket.once('data', () => {
      socket.destroy()
      resolve('ok')
    })
    socket.once('error', (error) => resolve(error))
    socket.once('close', () => resolve(new Error('closed without an answer')))
  })
}

describe('TLS listeners', () => {
  it('make a throwaway CA, serve KafkaJS that trusts it, and say SSL', async () => {
    const cluster = await startCluster({ brokers: 2, tls: true })
    expect(cluster.caCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/)
    expect(cluster.securityProtocol).toBe('SSL')
    const topic = await produceOne(cluster, kafkajsSsl(cluster))
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['over-tls'])
    const consumed = await consumeWithKafkaJS(cluster, topic, 1, { ssl: kafkajsSsl(cluster) })
    expect(consumed.map((m) => m.value?.toString())).toEqual(['over-tls'])
  })

  it('refuse a client that does not trust the CA', async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    await expectRefused(cluster, true, /self[- ]signed|unable to verify|certificate/i)
  })

  it('close a plaintext client at once, and keep serving TLS clients', async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    const raw = await openRaw(cluster.brokers()[0]!)
    await raw.send(ApiVersions, 0, {})
    await raw.waitForClose()
    await produceOne(cluster, kafkajsSsl(cluster))
  })

  it('close a client that sends garbage instead of a ClientHello', async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    const raw = await openRaw(cluster.brokers()[0]!)
    await raw.write(Buffer.from('\x16\x03\x01\x00\x05garbage-that-is-no-handshake', 'latin1'))
    await raw.waitForClose()
    await produceOne(cluster, kafkajsSsl(cluster))
  })

  it('stop() at once with a handshake left hanging', async () => {
    const cluster = await EmbeddedKafka.start({ brokers: 1, tls: true })
    const raw = await openRaw(cluster.brokers()[0]!) // connected, never says anything
    await within(cluster.stop(), 2_000, 'stop with a silent TLS client')
    await raw.waitForClose()
  })

  it('are valid for localhost as well as 127.0.0.1', async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    const port = cluster.brokers()[0]!.port
    const producer = await connectedProducer(
      kafkaFor({ bootstrapServers: [`localhost:${port}`] }, 'by-name', { ssl: kafkajsSsl(cluster) }),
    )
    await producer.send({ topic: randomTopic('by-name'), messages: [{ value: 'x' }] })
  })

  it('serve the certificate, key and CA given as files', async () => {
    const authority = await CertificateAuthority.create('a team CA')
    const server = await authority.issueServerCertificate(['localhost', '127.0.0.1'])
    const { certFile, keyFile } = await certificateFiles(server, 'broker')
    const tlsCaFile = join(certFile, '..', 'ca.pem')
    await writeFile(tlsCaFile, authority.certificate)
    const cluster = await startCluster({ brokers: 1, tlsCertFile: certFile, tlsKeyFile: keyFile, tlsCaFile })
    expect(cluster.caCertificate).toBe(authority.certificate)
    expect(cluster.securityProtocol).toBe('SSL')
    await produceOne(cluster, { ca: [authority.certificate] })
    expect(() => cluster.issueClientCertificate()).toThrow(/no throwaway CA/)
  })

  it.each<[string, EmbeddedKafkaOptions, string, RegExp]>([
    ['a certificate without its key', { tlsCertFile: '/x.pem' }, 'tlsKeyFile', /go together/],
    ['a key without its certificate', { tlsKeyFile: '/x.key' }, 'tlsKeyFile', /go together/],
    ['an empty path', { tls: true, tlsCaFile: '' }, 'tlsCaFile', /file path/],
    ['a flag that is not a boolean', { mtls: 'yes' as never }, 'mtls', /true or false/],
  ])('refuse %s, naming the option', async (_, options, option, message) => {
    const failure = await EmbeddedKafka.start({ brokers: 1, ...options }).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(EmbeddedKafkaConfigError)
    expect(failure).toMatchObject({ option, message: expect.stringMatching(message) })
  })

  it('refuse a file that cannot be read, naming the option and the file', async () => {
    const dir = await tempDir()
    const missing = join(dir, 'absent.pem')
    const failure = await EmbeddedKafka.start({ brokers: 1, tlsCertFile: missing, tlsKeyFile: missing }).catch(
      (error: unknown) => error,
    )
    expect(failure).toMatchObject({ option: 'tlsCertFile', message: expect.stringContaining(missing) })
  })
})

describe('mutual TLS', () => {
  it('serves a client presenting a certificate the CA signed', async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    expect(cluster.securityProtocol).toBe('SSL')
    const client = await cluster.issueClientCertificate({ commonName: 'orders-service' })
    const topic = await produceOne(cluster, kafkajsSsl(cluster, client), 'mutual')
    expect((await cluster.records(topic)).map((r) => r.value?.toString())).toEqual(['mutual'])
  })

  it('refuses a client without a certificate, with an expired one, or with one of another CA', async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const port = cluster.brokers()[0]!.port
    const ca = [cluster.caCertificate!]
    const expired = await cluster.issueClientCertificate({
      notBefore: new Date(Date.now() - 7_200_000),
      notAfter: new Date(Date.now() - 3_600_000),
    })
    const stranger = await (await CertificateAuthority.create('another CA')).issueClientCertificate()
    const good = await cluster.issueClientCertificate()
    expect(await answeredOverTls(port, { ca })).toBeInstanceOf(Error)
    expect(await answeredOverTls(port, { ca, cert: expired.certificate, key: expired.privateKey })).toBeInstanceOf(
      Error,
    )
    expect(await answeredOverTls(port, { ca, cert: stranger.certificate, key: stranger.privateKey })).toBeInstanceOf(
      Error,
    )
    expect(await answeredOverTls(port, { ca, cert: good.certificate, key: good.privateKey })).toBe('ok')
    await expectRefused(cluster, kafkajsSsl(cluster), /certificate|alert|closed|socket/i)
    await produceOne(cluster, kafkajsSsl(cluster, good))
  })

  it('gives tests the CA and a client certificate as files, as a pod mounts them', async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const files = await clientCertificateFiles(cluster, { commonName: 'pod' })
    const { readFile } = await import('node:fs/promises')
    const ssl = {
      ca: [await readFile(files.caFile, 'utf8')],
      cert: await readFile(files.certFile, 'utf8'),
      key: await readFile(files.keyFile, 'utf8'),
    }
    await produceOne(cluster, ssl)
  })
})

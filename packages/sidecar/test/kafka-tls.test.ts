/**
 * The sidecar over TLS against an embedded cluster that speaks it (a throwaway CA; mutual TLS when
 * asked), configured as a pod is: the CA, the client certificate and its key are files. It writes
 * records through a private CA and with a client certificate; a server-name override is what the
 * certificate is checked against; when the handshake fails it is not ready and says why (which
 * broker, which TLS error); a certificate or CA rotated into its file is used by the next
 * connection, without a restart; and a key that is not its certificate's or an expired
 * certificate stops it at start, naming the option and the file.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  certificateFiles,
  clientCertificateFiles,
  replaceFile,
  runProgram,
  startCluster,
  startTestSidecar,
  tempDir,
} from '@kafka-sidecar/test-support'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startSidecar, SidecarConfigError } from '../src/index.js'
import { writeOneRecord } from './helpers.js'
import { healthCheck, notReadyBecause, readyWithin, readyz, startWatchedSidecar } from './readiness-helpers.js'

const T = { timeout: 30_000 }

describe('the sidecar over TLS', () => {
  it('trusts a private CA from KAFKA_SSL_CA_FILE and writes records', T, async () => {
    const cluster = await startCluster({ brokers: 2, tls: true })
    const caFile = join(await tempDir(), 'ca.pem')
    await writeFile(caFile, cluster.caCertificate!)
    const sidecar = await startTestSidecar(cluster, { ssl: true, sslCaFile: caFile })
    await writeOneRecord(sidecar, cluster, 'over TLS')
  })

  it('presents the client certificate of KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE (mutual TLS)', T, async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const { caFile, certFile, keyFile } = await clientCertificateFiles(cluster, { commonName: 'sidecar' })
    const sidecar = await startTestSidecar(cluster, {
      ssl: true,
      sslCaFile: caFile,
      sslCertFile: certFile,
      sslKeyFile: keyFile,
    })
    await writeOneRecord(sidecar, cluster, 'over mutual TLS')
  })

  it("checks the brokers' certificate against KAFKA_SSL_SERVERNAME instead of their address", T, async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    const caFile = join(await tempDir(), 'ca.pem')
    await writeFile(caFile, cluster.caCertificate!)
    // The certificate names localhost and 127.0.0.1 (the address), not this name: refused.
    const { sidecar } = await startWatchedSidecar(cluster, {
      ssl: true,
      sslCaFile: caFile,
      sslServername: 'kafka.example.test',
    })
    const reason = await notReadyBecause(sidecar, /ERR_TLS_CERT_ALTNAME_INVALID/)
    expect(reason).toMatch(/kafka\.example\.test/)
    const named = await startTestSidecar(cluster, { ssl: true, sslCaFile: caFile, sslServername: 'localhost' })
    await writeOneRecord(named, cluster, 'checked against localhost')
  })

  it('with KAFKA_SSL_REJECT_UNAUTHORIZED=false connects to brokers whose CA it does not trust', T, async () => {
    const cluster = await startCluster({ brokers: 1, tls: true })
    const sidecar = await startTestSidecar(cluster, { ssl: true, sslRejectUnauthorized: false })
    await writeOneRecord(sidecar, cluster, 'unverified')
  })
})

describe('a TLS handshake that fails: not ready, and why; the fixed file is used without a restart', () => {
  it(
    "a CA that did not sign the brokers' certificate, then the right one written to KAFKA_SSL_CA_FILE",
    T,
    async () => {
      const cluster = await startCluster({ brokers: 1, tls: true })
      const stranger = await startCluster({ brokers: 1, tls: true })
      const caFile = join(await tempDir(), 'ca.pem')
      await writeFile(caFile, stranger.caCertificate!)
      const { sidecar, logs } = await startWatchedSidecar(cluster, { ssl: true, sslCaFile: caFile })
      const broker = cluster.bootstrapServers[0]!
      // Both throwaway CAs have one name, as a re-issued CA does: the signature does not verify.
      const reason = await notReadyBecause(sidecar, /CERT_SIGNATURE_FAILURE/)
      expect(reason).toBe(
        `not connected to Kafka: cannot connect: CERT_SIGNATURE_FAILURE from ${broker} (TLS): certificate signature failure`,
      )
      expect(await healthCheck(sidecar)).toEqual({
        serving: false,
        reason: reason.replace('not connected to Kafka: ', ''),
      })

      await replaceFile(caFile, cluster.caCertificate!)
      await readyWithin(sidecar, 15_000)
      expect(await healthCheck(sidecar)).toEqual({ serving: true, reason: undefined })
      await writeOneRecord(sidecar, cluster, 'after the CA was fixed')
      expect(logs.map((l) => l.log.message)).toContain('connected to Kafka')
    },
  )

  it("mutual TLS with a certificate another CA signed, then one of the cluster's CA rotated in", T, async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const stranger = await startCluster({ brokers: 1, tls: true })
    const { caFile, certFile, keyFile } = await clientCertificateFiles(cluster)
    const foreign = await stranger.issueClientCertificate({ commonName: 'stranger' })
    await replaceFile(certFile, foreign.certificate)
    await replaceFile(keyFile, foreign.privateKey)
    const { sidecar } = await startWatchedSidecar(cluster, {
      ssl: true,
      sslCaFile: caFile,
      sslCertFile: certFile,
      sslKeyFile: keyFile,
    })
    const reason = await notReadyBecause(sidecar, /KafkaJSConnectionClosedError/)
    // The broker refuses the certificate by closing the connection once the handshake is done.
    expect(reason).toBe(
      `not connected to Kafka: cannot connect: KafkaJSConnectionClosedError from ${cluster.bootstrapServers[0]} (mutual TLS): Closed connection (brokers close the connection when they refuse the client certificate)`,
    )

    const own = await cluster.issueClientCertificate({ commonName: 'sidecar' })
    await replaceFile(keyFile, own.privateKey)
    await replaceFile(certFile, own.certificate)
    await readyWithin(sidecar, 15_000)
    await writeOneRecord(sidecar, cluster, 'after the certificate was rotated')
  })
})

describe('KAFKA_CONNECTION_TIMEOUT_MS', () => {
  it('bounds a TLS handshake a broker never answers, and the reason says so', T, async () => {
    // A "broker" that accepts the TCP connection and then says nothing: the handshake never ends.
    const silent = createServer(() => {})
    const sockets = new Set<Socket>()
    silent.on('connection', (socket) => sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    onTestFinished(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })
    const { port } = silent.address() as AddressInfo
    const { sidecar } = await startWatchedSidecar(
      { bootstrapServers: [`127.0.0.1:${port}`] },
      { ssl: true, connectionTimeoutMs: 300 },
    )
    const reason = await notReadyBecause(sidecar, /KafkaJSConnectionError/)
    expect(reason).toMatch(/KafkaJSConnectionError from 127\.0\.0\.1:\d+ \(TLS\): Connection timeout/)

    // A long one is waited out: after KafkaJS's own 1 s default, still connecting.
    const patient = await startWatchedSidecar(
      { bootstrapServers: [`127.0.0.1:${port}`] },
      { ssl: true, connectionTimeoutMs: 20_000 },
    )
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(await readyz(patient.sidecar)).toEqual({ status: 503, text: 'not connected to Kafka: connecting' })
  })
})

describe('certificate files that cannot work stop the start, naming the option and the file', () => {
  it("a key that is not the certificate's", T, async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const { caFile, certFile } = await clientCertificateFiles(cluster)
    const { keyFile } = await certificateFiles(await cluster.issueClientCertificate(), 'other')
    const error = await startSidecar({
      brokers: cluster.bootstrapServers,
      http: 'off',
      listen: `unix://${join(await tempDir(), 's.sock')}`,
      ssl: true,
      sslCaFile: caFile,
      sslCertFile: certFile,
      sslKeyFile: keyFile,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SidecarConfigError)
    expect((error as Error).message).toBe(
      `invalid configuration sslKeyFile: the key in ${keyFile} does not match the certificate in ${certFile} (sslCertFile)`,
    )
  })

  it.each<['sslCaFile' | 'sslCertFile']>([['sslCaFile'], ['sslCertFile']])(
    '%s caught half rewritten (a complete certificate, then half of the next)',
    T,
    async (option) => {
      const cluster = await startCluster({ brokers: 1, mtls: true })
      const files = await clientCertificateFiles(cluster)
      const file = option === 'sslCaFile' ? files.caFile : files.certFile
      const next = cluster.caCertificate!
      await writeFile(file, `${await readFile(file, 'utf8')}${next.slice(0, 300)}`)
      const error = await startSidecar({
        brokers: cluster.bootstrapServers,
        http: 'off',
        listen: `unix://${join(await tempDir(), 's.sock')}`,
        ssl: true,
        sslCaFile: files.caFile,
        sslCertFile: files.certFile,
        sslKeyFile: files.keyFile,
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SidecarConfigError)
      expect((error as Error).message).toBe(
        `invalid configuration ${option}: ${file} holds an incomplete PEM certificate (-----BEGIN CERTIFICATE----- without its end; is the file being written?)`,
      )
    },
  )

  it('an expired client certificate, through the CLI (named by its variable)', T, async () => {
    const cluster = await startCluster({ brokers: 1, mtls: true })
    const expiredOn = new Date(Date.now() - 86_400_000)
    const { caFile, certFile, keyFile } = await clientCertificateFiles(cluster, {
      commonName: 'expired',
      notBefore: new Date(Date.now() - 7 * 86_400_000),
      notAfter: expiredOn,
    })
    const result = await runProgram(fileURLToPath(new URL('../src/cli.ts', import.meta.url)), {
      env: {
        KAFKA_BROKERS: cluster.bootstrapServers.join(','),
        KAFKA_SIDECAR_HTTP: 'off',
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: caFile,
        KAFKA_SSL_CERT_FILE: certFile,
        KAFKA_SSL_KEY_FILE: keyFile,
      },
      timeoutMs: 10_000,
    })
    expect(result).toMatchObject({ code: 2, stdout: '' })
    expect(result.stderr).toMatch(
      new RegExp(
        `^kafka-sidecar: invalid configuration KAFKA_SSL_CERT_FILE: ${certFile}: the certificate "CN=expired" expired on .+ GMT\\n$`,
      ),
    )
  })
})

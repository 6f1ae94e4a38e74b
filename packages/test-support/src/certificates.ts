/**
 * Certificates for tests of TLS clusters: what a client trusts and presents, as KafkaJS takes them
 * (PEM text) and as a pod mounts them (files in a temp dir, removed when the test ends).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClientCertificateOptions, EmbeddedKafka, IssuedCertificate } from '@kafka-sidecar/embedded-kafka'
import type { ConnectionOptions } from 'node:tls'
import { tempDir } from './temp-dir.js'

export interface CertificateFiles {
  /** The cluster's CA certificate. */
  readonly caFile: string
  /** A client certificate the CA signed, and its key. */
  readonly certFile: string
  readonly keyFile: string
}

function caOf(cluster: Pick<EmbeddedKafka, 'caCertificate'>): string {
  if (cluster.caCertificate === undefined) throw new Error('the cluster has no CA: start it with tls')
  return cluster.caCertificate
}

/** KafkaJS `ssl` for a TLS cluster: trust its CA and, for mutual TLS, present `client`. */
export function kafkajsSsl(
  cluster: Pick<EmbeddedKafka, 'caCertificate'>,
  client?: IssuedCertificate,
): ConnectionOptions {
  return { ca: [caOf(cluster)], ...(client ? { cert: client.certificate, key: client.privateKey } : {}) }
}

/** `certificate` and `privateKey` written as PEM files (`name.pem`, `name.key`) in a fresh temp dir. */
export async function certificateFiles(
  issued: IssuedCertificate,
  name = 'client',
): Promise<{ readonly certFile: string; readonly keyFile: string }> {
  const dir = await tempDir()
  const certFile = join(dir, `${name}.pem`)
  const keyFile = join(dir, `${name}.key`)
  await writeFile(certFile, issued.certificate)
  await writeFile(keyFile, issued.privateKey, { mode: 0o600 })
  return { certFile, keyFile }
}

/** The cluster's CA and a new client certificate it signed, as files, as a pod mounts them. */
export async function clientCertificateFiles(
  cluster: EmbeddedKafka,
  options: ClientCertificateOptions = {},
): Promise<CertificateFiles> {
  const { certFile, keyFile } = await certificateFiles(await cluster.issueClientCertificate(options))
  const caFile = join(certFile, '..', 'ca.pem')
  await writeFile(caFile, caOf(cluster))
  return { caFile, certFile, keyFile }
}

/**
 * What a TLS listener serves: the broker certificate and key (made by a throwaway CA at start, or
 * read from the files given), the CA clients should trust, and for mutual TLS the demand for a
 * client certificate signed by that CA, which is what Kafka's `ssl.client.auth=required` does.
 */
import { readFile } from 'node:fs/promises'
import type { TlsOptions } from 'node:tls'
import { EmbeddedKafkaConfigError, type ResolvedOptions } from '../options.js'
import { CertificateAuthority } from './certificate-authority.js'

export interface BrokerTls {
  /** What `tls.createServer` takes. */
  readonly serverOptions: TlsOptions
  /** The CA certificate (PEM) clients trust, when one was made or given. */
  readonly caCertificate: string | undefined
  /** The CA that made the broker certificate, when it was made here: it can issue client certificates. */
  readonly authority: CertificateAuthority | undefined
}

type TlsSettings = Pick<ResolvedOptions, 'tls' | 'mtls' | 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile' | 'host'>

/** A handshake that has not finished by then is dropped, so a client that never speaks TLS does not linger. */
const HANDSHAKE_TIMEOUT_MS = 10_000

/** Names and addresses the made broker certificate is valid for: loopback, and the listening host. */
function certificateHosts(host: string): string[] {
  const hosts = ['localhost', '127.0.0.1', '::1']
  const wildcard = host === '0.0.0.0' || host === '::'
  return wildcard || hosts.includes(host) ? hosts : [host, ...hosts]
}

async function readOption(option: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    throw new EmbeddedKafkaConfigError(option, `cannot read ${file}: ${(error as Error).message}`)
  }
}

async function givenFiles(options: TlsSettings, certFile: string) {
  if (options.tlsKeyFile === undefined) throw new EmbeddedKafkaConfigError('tlsKeyFile', 'tlsCertFile needs its key')
  const caCertificate = options.tlsCaFile === undefined ? undefined : await readOption('tlsCaFile', options.tlsCaFile)
  return {
    cert: await readOption('tlsCertFile', certFile),
    key: await readOption('tlsKeyFile', options.tlsKeyFile),
    caCertificate,
    authority: undefined,
  }
}

async function madeHere(options: TlsSettings) {
  const authority = await CertificateAuthority.create()
  const server = await authority.issueServerCertificate(certificateHosts(options.host))
  return { cert: server.certificate, key: server.privateKey, caCertificate: authority.certificate, authority }
}

/** The listeners' TLS, or undefined for plaintext listeners. */
export async function brokerTls(options: TlsSettings): Promise<BrokerTls | undefined> {
  if (!options.tls) return undefined
  const { cert, key, caCertificate, authority } =
    options.tlsCertFile === undefined ? await madeHere(options) : await givenFiles(options, options.tlsCertFile)
  if (options.mtls && caCertificate === undefined)
    throw new EmbeddedKafkaConfigError('tlsCaFile', 'mutual TLS needs the CA that signs client certificates')
  const clientAuth = options.mtls ? { requestCert: true, rejectUnauthorized: true, ca: [caCertificate!] } : {}
  return {
    serverOptions: { cert, key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, ...clientAuth },
    caCertificate,
    authority,
  }
}

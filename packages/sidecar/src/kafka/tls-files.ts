/**
 * The TLS settings of a connection to the brokers, read from their files for each new connection
 * (a renewed certificate, key or CA is used from the next connection on, without a restart) and
 * checked as they are read: a certificate that has expired, or a key that is not the
 * certificate's, fails here with an error naming the option and the file, instead of as a
 * handshake error that names neither. At start the same read makes them startup errors.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { connect, createSecureContext, type ConnectionOptions, type TLSSocket } from 'node:tls'
import type { ISocketFactory } from 'kafkajs'
import { SidecarConfigError } from '../config-error.js'
import type { AttemptFailureListener } from './kafka-failure.js'
import { readOptionFile, type OptionFile } from './option-file.js'

export interface TlsFiles {
  /** The CA certificates to verify the brokers against; null: Node's CA store. */
  readonly ca: OptionFile | null
  /** The client certificate and its key (mutual TLS), both or neither. */
  readonly cert: OptionFile | null
  readonly key: OptionFile | null
  readonly rejectUnauthorized: boolean
  /** The name to send (SNI) and check the brokers' certificates against instead of their host. */
  readonly servername: string | null
}

/** KafkaJS's own socket factory's keep-alive. */
const KEEP_ALIVE_DELAY_MS = 60_000

/**
 * KafkaJS's socket factory for TLS, reading the files for each connection. KafkaJS takes `ssl` as
 * an object fixed at construction; its socketFactory option is called for every connection, so
 * the files are read there. As KafkaJS's own, it sends the broker's host as the server name unless
 * the host is an IP address (servername overrides both).
 */
export function tlsSocketFactory(files: TlsFiles, onFailure: AttemptFailureListener): ISocketFactory {
  return ({ host, port, onConnect }) => {
    const broker = `${host}:${port}`
    let socket: TLSSocket
    try {
      const options = tlsOptions(files)
      socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...options }, onConnect)
    } catch (error) {
      onFailure(error, broker)
      throw error
    }
    // Told at once, not after KafkaJS's retries (seconds later) give up: a handshake refused.
    socket.once('error', (error) => onFailure(error, broker))
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS)
    return socket
  }
}

/** tls.connect options for a connection made now, from the files as they are now. */
export function tlsOptions(files: TlsFiles, now = new Date()): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: files.rejectUnauthorized }
  if (files.servername !== null) options.servername = files.servername
  if (files.ca) options.ca = caCertificates(files.ca, now)
  if (files.cert && files.key) {
    const { pem, leaf } = clientCertificate(files.cert, now)
    options.cert = pem
    options.key = matchingKey(files.key, leaf, files.cert)
    usableByOpenSsl(files.cert, { cert: options.cert, key: options.key })
  }
  return options
}

/**
 * OpenSSL reads the whole file, where the checks above read the complete blocks only: what it
 * refuses (a damaged block beside good ones) fails here, naming the file, not at every handshake.
 */
function usableByOpenSsl(file: OptionFile, options: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>): void {
  try {
    createSecureContext(options)
  } catch (error) {
    throw new SidecarConfigError(file.source, `${file.path} cannot be used for TLS: ${(error as Error).message}`)
  }
}

const BEGIN_CERTIFICATE = '-----BEGIN CERTIFICATE-----'
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g

function certificates(file: OptionFile): { pem: string; parsed: X509Certificate[] } {
  const pem = readOptionFile(file).toString('utf8')
  const blocks = pem.match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) throw new SidecarConfigError(file.source, `${file.path} holds no PEM certificate`)
  // A file caught while it is rewritten (a rotation) ends in half a block: OpenSSL ignores it in a
  // CA bundle, so without this a CA left out by a half-written file would go unnoticed.
  if (pem.split(BEGIN_CERTIFICATE).length - 1 !== blocks.length)
    throw new SidecarConfigError(
      file.source,
      `${file.path} holds an incomplete PEM certificate (${BEGIN_CERTIFICATE} without its end; is the file being written?)`,
    )
  const parsed = blocks.map((block) => {
    try {
      return new X509Certificate(block)
    } catch (error) {
      throw new SidecarConfigError(
        file.source,
        `${file.path} holds a certificate that does not parse: ${(error as Error).message}`,
      )
    }
  })
  return { pem, parsed }
}

/** Why a certificate cannot be used now, or null. */
function invalidNow(certificate: X509Certificate, now: Date): string | null {
  const subject = certificate.subject.replace(/\n/g, ', ')
  if (new Date(certificate.validTo) < now) return `the certificate "${subject}" expired on ${certificate.validTo}`
  if (new Date(certificate.validFrom) > now)
    return `the certificate "${subject}" is not valid before ${certificate.validFrom}`
  return null
}

/** A CA bundle may hold expired certificates beside current ones; one that holds only expired ones verifies nothing. */
function caCertificates(file: OptionFile, now: Date): string {
  const { pem, parsed } = certificates(file)
  const problems = parsed.map((certificate) => invalidNow(certificate, now))
  if (problems.every((problem) => problem !== null))
    throw new SidecarConfigError(file.source, `${file.path}: ${problems.join('; ')}`)
  return pem
}

/** The client certificate (the first of the file; the rest is its chain), valid now. */
function clientCertificate(file: OptionFile, now: Date): { pem: string; leaf: X509Certificate } {
  const { pem, parsed } = certificates(file)
  const leaf = parsed[0]!
  const problem = invalidNow(leaf, now)
  if (problem) throw new SidecarConfigError(file.source, `${file.path}: ${problem}`)
  return { pem, leaf }
}

function matchingKey(file: OptionFile, leaf: X509Certificate, certFile: OptionFile): Buffer {
  const pem = readOptionFile(file)
  let key
  try {
    key = createPrivateKey(pem)
  } catch (error) {
    // Never the key's text: only what Node says about it (an encrypted key, a wrong format).
    throw new SidecarConfigError(
      file.source,
      `${file.path} holds no unencrypted private key in PEM: ${(error as Error).message}`,
    )
  }
  if (!leaf.checkPrivateKey(key))
    throw new SidecarConfigError(
      file.source,
      `the key in ${file.path} does not match the certificate in ${certFile.path} (${certFile.source})`,
    )
  return pem
}

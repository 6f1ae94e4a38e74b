/**
 * A throwaway certificate authority, made when a TLS cluster starts: it signs the brokers'
 * certificate and, for mutual TLS, the client certificates tests ask for. Node can make keys but
 * not X.509 certificates, so node-forge (pure JS, no native parts) builds and signs them; the RSA
 * keys come from Node's crypto, which is much faster than forge's own.
 */
import { generateKeyPair } from 'node:crypto'
import { isIP } from 'node:net'
import { promisify } from 'node:util'
import forge from 'node-forge'

const generateRsaKeyPair = promisify(generateKeyPair)

/** A day in milliseconds; certificates are valid from a minute ago, so clocks a little apart agree. */
const DAY_MS = 86_400_000
const CLOCK_SKEW_MS = 60_000
const DEFAULT_VALID_DAYS = 7

/** A certificate and its private key, both PEM. */
export interface IssuedCertificate {
  readonly certificate: string
  readonly privateKey: string
}

export interface ClientCertificateOptions {
  /** The certificate's subject CN (Kafka's mutual-TLS principal is `CN=<this>`). Default 'client'. */
  readonly commonName?: string
  /** Start of validity. Default: a minute ago. */
  readonly notBefore?: Date
  /** End of validity; a date in the past gives an expired certificate. Default: a week from now. */
  readonly notAfter?: Date
}

interface Subject {
  readonly commonName: string
  /** Host names and IP addresses the certificate is valid for (a server certificate's SAN). */
  readonly altNames?: readonly string[]
  readonly usage: 'ca' | 'server' | 'client'
  readonly notBefore?: Date
  readonly notAfter?: Date
}

interface KeyPair {
  readonly pem: string
  readonly privateKey: forge.pki.rsa.PrivateKey
  readonly publicKey: forge.pki.rsa.PublicKey
}

async function newKeyPair(): Promise<KeyPair> {
  const { privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const forgeKey = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey
  return {
    pem: privateKey,
    privateKey: forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
  }
}

let lastSerial = 0

/** A positive serial, unique within this process (clients reject two certificates of one issuer with the same serial). */
function nextSerial(): string {
  lastSerial = Math.max(lastSerial + 1, Date.now())
  return `01${lastSerial.toString(16)}`
}

function extensionsFor(subject: Subject): object[] {
  if (subject.usage === 'ca') {
    return [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]
  }
  const leaf: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: subject.usage === 'server', clientAuth: subject.usage === 'client' },
  ]
  const altNames = (subject.altNames ?? []).map((name) =>
    isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
  )
  return altNames.length > 0 ? [...leaf, { name: 'subjectAltName', altNames }] : leaf
}

function buildCertificate(
  subject: Subject,
  keys: KeyPair,
  issuer: forge.pki.Certificate | null,
): forge.pki.Certificate {
  const certificate = forge.pki.createCertificate()
  certificate.publicKey = keys.publicKey
  certificate.serialNumber = nextSerial()
  certificate.validity.notBefore = subject.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS)
  certificate.validity.notAfter = subject.notAfter ?? new Date(Date.now() + DEFAULT_VALID_DAYS * DAY_MS)
  certificate.setSubject([{ name: 'commonName', value: subject.commonName }])
  certificate.setIssuer((issuer ?? certificate).subject.attributes)
  certificate.setExtensions(extensionsFor(subject))
  return certificate
}

export class CertificateAuthority {
  private constructor(
    private readonly root: forge.pki.Certificate,
    private readonly keys: KeyPair,
    /** The CA certificate, PEM: what clients trust. */
    readonly certificate: string,
  ) {}

  static async create(commonName = 'embedded-kafka throwaway CA'): Promise<CertificateAuthority> {
    const keys = await newKeyPair()
    const root = buildCertificate({ commonName, usage: 'ca', notAfter: new Date(Date.now() + 30 * DAY_MS) }, keys, null)
    root.sign(keys.privateKey, forge.md.sha256.create())
    return new CertificateAuthority(root, keys, forge.pki.certificateToPem(root))
  }

  /** A broker certificate valid for `hosts` (names or IP addresses). */
  issueServerCertificate(hosts: readonly string[]): Promise<IssuedCertificate> {
    return this.issue({ commonName: hosts[0] ?? 'localhost', altNames: hosts, usage: 'server' })
  }

  /** A client certificate for mutual TLS, signed by this CA. */
  issueClientCertificate(options: ClientCertificateOptions = {}): Promise<IssuedCertificate> {
    return this.issue({ ...options, commonName: options.commonName ?? 'client', usage: 'client' })
  }

  private async issue(subject: Subject): Promise<IssuedCertificate> {
    const keys = await newKeyPair()
    const certificate = buildCertificate(subject, keys, this.root)
    certificate.sign(this.keys.privateKey, forge.md.sha256.create())
    return { certificate: forge.pki.certificateToPem(certificate), privateKey: keys.pem }
  }
}

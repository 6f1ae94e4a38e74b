/**
 * The client's side of SCRAM (RFC 5802 section 3), written here from the RFC and not from the
 * broker's code, so that tests that drive the broker with it check the broker against the RFC.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'

export type Hash = 'sha256' | 'sha512'

const escapeName = (name: string) => name.replace(/=/g, '=3D').replace(/,/g, '=2C')

export class ScramClient {
  readonly nonce = randomBytes(12).toString('base64')
  readonly first: Buffer
  private serverSignature: Buffer | null = null

  constructor(
    private readonly hash: Hash,
    readonly username: string,
    private readonly password: string,
    /** Extensions after the nonce, as `name=value,...` (RFC 5802's optional attributes). */
    private readonly extensions = '',
  ) {
    this.first = Buffer.from(`n,,${this.bare()}`)
  }

  private bare(): string {
    return `n=${escapeName(this.username)},r=${this.nonce}${this.extensions ? `,${this.extensions}` : ''}`
  }

  /**
   * client-final for `serverFirst`; `proofOf` a different password makes a wrong proof;
   * `repeatNonce` writes `r=` as librdkafka does: its own nonce again, then the server's.
   */
  final(serverFirst: Buffer, proofOf = this.password, repeatNonce = false): Buffer {
    const text = serverFirst.toString()
    const fields = Object.fromEntries(text.split(',').map((f) => [f[0], f.slice(2)]))
    const salted = pbkdf2Sync(
      proofOf,
      Buffer.from(fields.s!, 'base64'),
      Number(fields.i),
      this.hash === 'sha256' ? 32 : 64,
      this.hash,
    )
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${repeatNonce ? this.nonce : ''}${fields.r}`
    const authMessage = `${this.bare()},${text},${withoutProof}`
    const clientKey = createHmac(this.hash, salted).update('Client Key').digest()
    const storedKey = createHash(this.hash).update(clientKey).digest()
    const signature = createHmac(this.hash, storedKey).update(authMessage).digest()
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!))
    const serverKey = createHmac(this.hash, salted).update('Server Key').digest()
    this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest()
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)
  }

  /** Whether server-final carries the signature only a server that knows the credential can make. */
  verifies(serverFinal: Buffer): boolean {
    return this.serverSignature !== null && serverFinal.toString() === `v=${this.serverSignature.toString('base64')}`
  }
}

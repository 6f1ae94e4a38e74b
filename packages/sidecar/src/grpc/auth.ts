/**
 * Optional shared-token authentication: when a token is configured, every ProducerSidecar call
 * must carry `authorization: Bearer <token>`. Compared in constant time; the token never appears
 * in errors, logs or metrics. Health checks stay open so probes need no secret.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import { status, type Metadata } from '@grpc/grpc-js'
import { SidecarError } from '../errors.js'

export class TokenAuth {
  private readonly expected: Buffer | null

  constructor(token: string | null) {
    this.expected = token ? digest(token) : null
  }

  get enabled(): boolean {
    return this.expected !== null
  }

  /** Throws UNAUTHENTICATED unless the metadata carries the configured token. */
  check(metadata: Metadata): void {
    if (!this.expected) return
    const header = metadata.get('authorization')[0]
    // The scheme name is case-insensitive (RFC 9110 section 11.1).
    const match = typeof header === 'string' ? /^bearer (.+)$/i.exec(header) : null
    const presented = match ? match[1]! : null
    if (presented === null)
      throw new SidecarError({
        grpcCode: status.UNAUTHENTICATED,
        message: 'missing "authorization: Bearer <token>" metadata',
      })
    // Hash both sides so lengths match and nothing about the token leaks through timing.
    if (!timingSafeEqual(digest(presented), this.expected))
      throw new SidecarError({ grpcCode: status.UNAUTHENTICATED, message: 'invalid token' })
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

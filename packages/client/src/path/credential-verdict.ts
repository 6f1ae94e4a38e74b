/**
 * The sidecar's standing verdict on this producer's credentials. A sidecar that refused the
 * token (UNAUTHENTICATED) has said these records must not be written with
 * them; the direct path would write them around that check. So once refused, a later failure
 * of the sidecar path (a dropped connection, a dead sidecar, an open breaker) rejects with the
 * refusal instead of falling back, until the sidecar accepts a request from this producer again
 * (its token rotated to match, say). The breaker's half-open probe, a health check, needs no
 * token and so cannot tell: only an accepted request clears the verdict. A refusal of one topic
 * (PERMISSION_DENIED, not in the sidecar's allow-list) is about that topic's records only, and
 * stands for nothing else.
 */
import { status } from '@grpc/grpc-js'
import { SidecarRefusal } from '../transport/sidecar-errors.js'

export class CredentialVerdict {
  private refusal: SidecarRefusal | null = null

  /** Takes note of what a sidecar send ended with. */
  noteFailure(error: unknown): void {
    if (error instanceof SidecarRefusal && error.detail.grpcCode === status.UNAUTHENTICATED) this.refusal = error
  }

  noteAccepted(): void {
    this.refusal = null
  }

  /** The refusal that keeps this producer's records off the direct path, or null. */
  get standing(): SidecarRefusal | null {
    return this.refusal
  }
}

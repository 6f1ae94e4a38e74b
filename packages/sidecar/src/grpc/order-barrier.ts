/**
 * Keeps one EmitStream's records in order across refusals (EmitRequest.order_epoch).
 *
 * A producer pipelines its requests. When the sidecar refuses one (a full queue, an invalid
 * record), those written after it are already on the wire; queueing any of them would put its
 * records ahead of the refused request's retry. So after refusing a request of epoch E, the
 * stream refuses every later request of epoch <= E as ABORTED, without queueing it. The producer
 * moves to a greater epoch once it hears of the refusal and writes again, in order, what it wants
 * retried. Epoch 0 opts out: callers that never retry in order (plain unary-style use) are never
 * held up by someone else's refusal.
 */
import { status } from '@grpc/grpc-js'
import { SidecarError } from '../errors.js'

export class OrderBarrier {
  private refusedEpoch = 0
  private highestEpoch = 0

  /** The ABORTED refusal for a request that was written before its producer heard of a refusal, or null. */
  check(epoch: number): SidecarError | null {
    if (epoch > this.highestEpoch) this.highestEpoch = epoch
    if (epoch === 0 || epoch > this.refusedEpoch) return null
    return new SidecarError({
      grpcCode: status.ABORTED,
      message: `not queued: an earlier request on this stream (order_epoch ${this.refusedEpoch}) was refused, and queueing this one would put it ahead of that one's retry; write it again with order_epoch > ${this.refusedEpoch}`,
      retriable: true,
    })
  }

  /**
   * A request of `epoch` was refused. `undefined`: its epoch could not be read (undecodable
   * bytes), so the barrier assumes the worst: it may have opened the next epoch. A producer that
   * had not then meets one extra ABORTED round, and moves past it.
   */
  refused(epoch: number | undefined): void {
    const covered = epoch ?? this.highestEpoch + 1
    if (covered > this.refusedEpoch) this.refusedEpoch = covered
  }
}

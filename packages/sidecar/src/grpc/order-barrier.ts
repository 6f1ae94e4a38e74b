/**
 * The sidecar's end of the order-epoch protocol (EmitRequest.order_epoch): one per EmitStream.
 * After refusing a request of epoch E the stream closes E, and every later request of an epoch
 * <= E (and != 0) is answered ABORTED, unqueued, so nothing written behind a refusal is queued
 * ahead of its retry. Both ends are described in docs/architecture.md, "Order across refusals
 * (order epochs)".
 */
import { status } from '@grpc/grpc-js'
import { SidecarError } from '../errors.js'

export class OrderBarrier {
  /** The highest epoch closed so far (0: none). */
  private closedEpoch = 0
  private highestEpoch = 0

  /** The ABORTED refusal for a request written behind a refusal (its epoch is closed), or null to decide it. */
  admit(epoch: number): SidecarError | null {
    if (epoch > this.highestEpoch) this.highestEpoch = epoch
    if (epoch === 0 || epoch > this.closedEpoch) return null
    return new SidecarError({
      grpcCode: status.ABORTED,
      message: `not queued: an earlier request on this stream (order_epoch ${this.closedEpoch}) was refused, and queueing this one would put it ahead of that one's retry; write it again with order_epoch > ${this.closedEpoch}`,
      retriable: true,
    })
  }

  /**
   * A request of `epoch` was refused: close it. `undefined`: its epoch could not be read
   * (undecodable bytes), so the barrier assumes the worst: it may have opened the next epoch. A
   * producer that had not then meets one extra ABORTED round, and moves past it.
   */
  closeEpoch(epoch: number | undefined): void {
    const closed = epoch ?? this.highestEpoch + 1
    if (closed > this.closedEpoch) this.closedEpoch = closed
  }
}

/**
 * grpc.health.v1: SERVING only while the Kafka producer is connected and the sidecar is not
 * shutting down. The empty service name and the ProducerSidecar service share that status.
 * grpc.health.v1's answer has no room for a reason, so Check sends why the sidecar is not serving
 * in its trailing metadata, `kafka-sidecar-reason` (`grpcurl -v` shows it).
 */
import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '@kafka-sidecar/proto'

export const SIDECAR_SERVICE_NAME = 'kafka_sidecar.v1.ProducerSidecar'
const KNOWN_SERVICES = new Set(['', SIDECAR_SERVICE_NAME])
export const REASON_METADATA_KEY = 'kafka-sidecar-reason'
/** Metadata values are printable ASCII; a reason is a line, not a report. */
const MAX_REASON_LENGTH = 1_000

export class HealthState {
  private serving = false
  private reason = 'starting'
  private readonly watchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>()

  /** Serving or not, and why (kept for Check's trailing metadata). */
  set(serving: boolean, reason: string): void {
    this.reason = reason
    if (serving === this.serving) return
    this.serving = serving
    for (const call of this.watchers) call.write({ status: this.status() })
  }

  get isServing(): boolean {
    return this.serving
  }

  status(): ServingStatus {
    return this.serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING
  }

  endWatches(): void {
    for (const call of this.watchers) call.end()
    this.watchers.clear()
  }

  private reasonMetadata(): Metadata {
    const metadata = new Metadata()
    metadata.set(REASON_METADATA_KEY, this.reason.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_REASON_LENGTH))
    return metadata
  }

  implementation(): HealthServer {
    return {
      check: (call, callback) => {
        if (!KNOWN_SERVICES.has(call.request.service))
          return callback({ code: status.NOT_FOUND, details: `unknown service "${call.request.service}"` })
        callback(null, { status: this.status() }, this.serving ? undefined : this.reasonMetadata())
      },
      watch: (call) => {
        if (!KNOWN_SERVICES.has(call.request.service)) {
          call.write({ status: ServingStatus.SERVICE_UNKNOWN })
          return
        }
        this.watchers.add(call)
        call.on('cancelled', () => this.watchers.delete(call))
        call.write({ status: this.status() })
      },
    }
  }
}

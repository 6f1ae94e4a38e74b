/**
 * grpc.health.v1: SERVING only while the Kafka producer is connected and the sidecar is not
 * shutting down. The empty service name and the ProducerSidecar service share that status.
 */
import { status, type ServerWritableStream } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from '@kafka-sidecar/proto'

export const SIDECAR_SERVICE_NAME = 'kafka_sidecar.v1.ProducerSidecar'
const KNOWN_SERVICES = new Set(['', SIDECAR_SERVICE_NAME])

export class HealthState {
  private serving = false
  private readonly watchers = new Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>()

  set(serving: boolean): void {
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

  implementation(): HealthServer {
    return {
      check: (call, callback) => {
        if (!KNOWN_SERVICES.has(call.request.service))
          return callback({ code: status.NOT_FOUND, details: `unknown service "${call.request.service}"` })
        callback(null, { status: this.status() })
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

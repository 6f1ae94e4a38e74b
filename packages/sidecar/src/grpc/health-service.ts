/**
 * grpc.health.v1, per service:
 *
 * - the empty service name and kafka_sidecar.v1.ProducerSidecar: SERVING only while Kafka is
 *   connected and the sidecar is not shutting down (what /readyz says);
 * - kafka_sidecar.v1.ConsumerSidecar: that, and every consumer group's member in its group (none
 *   crashed: see consumer/group-health.ts). A group in trouble makes only this service NOT_SERVING:
 *   the producer side, and the pod's readiness, go on (docs/consumers.md, "Health").
 *
 * grpc.health.v1's answer has no room for a reason, so Check sends why a service is not serving
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
export const CONSUMER_SERVICE_NAME = 'kafka_sidecar.v1.ConsumerSidecar'
const KNOWN_SERVICES = new Set(['', SIDECAR_SERVICE_NAME, CONSUMER_SERVICE_NAME])
export const REASON_METADATA_KEY = 'kafka-sidecar-reason'
/** Metadata values are printable ASCII; a reason is a line, not a report. */
const MAX_REASON_LENGTH = 1_000

export interface ServiceHealth {
  readonly serving: boolean
  readonly reason: string
}

type Watch = ServerWritableStream<HealthCheckRequest, HealthCheckResponse>

export class HealthState {
  private serving = false
  private reason = 'starting'
  private consumerProblem: () => string | null = () => null
  /** Each Watch call, with the status it was last sent. */
  private readonly watchers = new Map<Watch, ServingStatus>()

  /** The sidecar serving or not (Kafka connected, not shutting down), and why. */
  set(serving: boolean, reason: string): void {
    this.reason = reason
    this.serving = serving
    this.notify()
  }

  /** Where the consumer service reads whether a group is in trouble: a reason, or null. */
  watchConsumerGroups(problem: () => string | null): void {
    this.consumerProblem = problem
    this.notify()
  }

  /** A consumer group's state changed: Watch calls of the consumer service hear it. */
  consumerGroupsChanged(): void {
    this.notify()
  }

  get isServing(): boolean {
    return this.serving
  }

  /** One service's health; the empty name and ProducerSidecar are the sidecar's own. */
  of(service: string): ServiceHealth {
    if (!this.serving) return { serving: false, reason: this.reason }
    if (service !== CONSUMER_SERVICE_NAME) return { serving: true, reason: this.reason }
    const problem = this.consumerProblem()
    return problem === null ? { serving: true, reason: this.reason } : { serving: false, reason: problem }
  }

  endWatches(): void {
    for (const call of this.watchers.keys()) call.end()
    this.watchers.clear()
  }

  implementation(): HealthServer {
    return {
      check: (call, callback) => {
        const { service } = call.request
        if (!KNOWN_SERVICES.has(service))
          return callback({ code: status.NOT_FOUND, details: `unknown service "${service}"` })
        const health = this.of(service)
        callback(null, { status: statusOf(health) }, health.serving ? undefined : reasonMetadata(health.reason))
      },
      watch: (call) => {
        if (!KNOWN_SERVICES.has(call.request.service)) {
          call.write({ status: ServingStatus.SERVICE_UNKNOWN })
          return
        }
        const now = statusOf(this.of(call.request.service))
        this.watchers.set(call, now)
        call.on('cancelled', () => this.watchers.delete(call))
        call.write({ status: now })
      },
    }
  }

  /** Every Watch call whose service's status changed hears the new one. */
  private notify(): void {
    for (const [call, sent] of this.watchers) {
      const now = statusOf(this.of(call.request.service))
      if (now === sent) continue
      this.watchers.set(call, now)
      call.write({ status: now })
    }
  }
}

function statusOf(health: ServiceHealth): ServingStatus {
  return health.serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING
}

function reasonMetadata(reason: string): Metadata {
  const metadata = new Metadata()
  metadata.set(REASON_METADATA_KEY, reason.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_REASON_LENGTH))
  return metadata
}

/**
 * The sidecar path's transport while the producer is connected: a gRPC channel to the sidecar
 * (EmitStream and DeliveryReports on it, the health check beside it), the coalescer that writes
 * sends onto the EmitStream, and the tracker that turns the report stream into delivery callbacks.
 * Built at connect (and in the constructor), closed at disconnect.
 */
import { randomUUID } from 'node:crypto'
import { credentials, Metadata, type ChannelOptions } from '@grpc/grpc-js'
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  LIVENESS_HEADER,
  type ProducerSidecarClient,
} from '@kafka-sidecar/proto'
import type { Logger } from 'kafkajs'
import type { DeliveryReportTarget } from '../delivery/delivery-report.js'
import { SidecarDeliveryTracker } from '../delivery/sidecar-delivery-tracker.js'
import { grpcTarget, type ResolvedSidecarOptions } from '../options.js'
import { Coalescer } from './coalescer.js'
import type { EmitPart, PartOutcome } from './emit-part.js'
import { EmitStream } from './emit-stream.js'
import { OnePassProducerSidecarClient } from './producer-client.js'
import { ReportStream } from './report-stream.js'

/**
 * Reconnect faster than grpc-js's defaults (1 s doubling to 120 s), so a restarted sidecar is
 * found again within a second or two. Ping the sidecar every quarter of the liveness timeout, and
 * give up on a connection whose ping is not answered within the other three quarters: a hung
 * sidecar (stopped, event loop blocked) keeps its socket open and answers nothing, and without
 * pings nothing would tell until each send's own deadline (its `timeout`, 30 s by default). So
 * a hung sidecar is told within [3/4, 1] of the liveness timeout. A sidecar that is slow under
 * load still answers pings, which its event loop handles between requests, but late: the long
 * share for the answer keeps one whose answers run a few hundred ms behind (event-loop lag of
 * both processes) from being taken for a hung one.
 */
export function channelOptions(livenessTimeoutMs: number): ChannelOptions {
  return {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1_000,
    'grpc.keepalive_time_ms': Math.floor(livenessTimeoutMs / 4),
    'grpc.keepalive_timeout_ms': Math.ceil((livenessTimeoutMs * 3) / 4),
    'grpc.keepalive_permit_without_calls': 1,
  }
}

export class SidecarPath {
  readonly client: ProducerSidecarClient
  readonly health: HealthClient
  readonly stream: EmitStream
  readonly tracker: SidecarDeliveryTracker
  readonly coalescer: Coalescer
  readonly reports: ReportStream

  constructor(options: ResolvedSidecarOptions, clientId: string, log: Logger, target: DeliveryReportTarget) {
    const address = grpcTarget(options.address)
    this.client = new OnePassProducerSidecarClient(
      address,
      credentials.createInsecure(),
      channelOptions(options.livenessTimeoutMs),
    )
    this.health = new HealthClient(address, credentials.createInsecure(), channelOptions(options.livenessTimeoutMs))
    const metadata = () => requestMetadata(options)
    const instanceId = randomUUID()
    this.stream = new EmitStream(this.client, metadata)
    this.tracker = new SidecarDeliveryTracker(
      (report) => target.deliver(report),
      options.reportTimeoutMs,
      () => target.wantsReports(),
    )
    this.coalescer = new Coalescer(
      this.stream,
      { clientId, appName: options.appName ?? clientId, instanceId },
      {
        maxRecords: options.maxCoalescedRecords,
        maxBytes: options.maxCoalescedBytes,
        deadlineMarginMs: options.requestTimeoutMarginMs,
        retryBudgetMs: options.backpressureRetryMs,
      },
      this.tracker,
    )
    this.reports = new ReportStream(this.client, metadata, instanceId, {
      onReport: (requestId, result) => this.tracker.onReport(requestId, result),
      // Only acks 0 requests have reports; their acks (on receipt) say no more than "taken": what is
      // still open is reported from them, without partition and offset.
      onLost: () => this.tracker.onGap(),
      onGap: (first, last, reason) => {
        log.warn('Delivery reports lost between sequences; using the acks for what is still open', {
          first,
          last,
          reason,
        })
        this.tracker.onGap()
      },
    })
  }

  submit(part: EmitPart): Promise<PartOutcome> {
    return this.coalescer.submit(part)
  }

  /** Whether the sidecar answers its health check as serving before `deadline`. */
  isServing(deadline: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.health.check(
        { service: 'kafka_sidecar.v1.ProducerSidecar' },
        new Metadata(),
        { deadline },
        (error, response) => resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
      )
    })
  }

  /** Resolves once the channel is connected, or after `waitMs` whatever its state. */
  channelReady(waitMs: number): Promise<void> {
    return new Promise((resolve) => this.client.waitForReady(Date.now() + waitMs, () => resolve()))
  }

  /** Whether the sidecar answers as serving within `timeoutMs`, asking again every 100 ms. */
  async waitUntilServing(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await this.isServing(Math.min(deadline, Date.now() + 1_000))) return true
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))))
    }
    return false
  }

  /**
   * At disconnect, once the reports had their time: reports what the acks already told, stops
   * the report stream, and fails the sends still waiting here with `notSent`.
   */
  stop(notSent: Error): void {
    this.tracker.flush()
    this.reports.stop()
    this.coalescer.failWaiting(notSent)
  }

  /** Closes the stream and the gRPC channels: a producer per job must not leak them. */
  close(): void {
    this.stream.close()
    this.client.close()
    this.health.close()
  }
}

/** Every call's metadata: the producer's token, and how long it waits for an unanswered ping. */
export function requestMetadata(options: Pick<ResolvedSidecarOptions, 'token' | 'livenessTimeoutMs'>): Metadata {
  const m = new Metadata()
  if (options.token) m.set('authorization', `Bearer ${options.token}`)
  // How long this client waits for an unanswered ping: the sidecar refuses what it read after
  // a stall only when the stall was long enough for this client to have given up (StallGuard).
  m.set(LIVENESS_HEADER, String(options.livenessTimeoutMs))
  return m
}

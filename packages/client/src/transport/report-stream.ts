/**
 * Follows this producer instance's DeliveryReports stream. It remembers the last sequence it
 * saw and resumes after it when restarted here (stop/start); when the stream breaks it reopens
 * from the sidecar's oldest retained report (see reopen), and the tracker drops what it already
 * reported, so no report is lost or repeated across a reconnect; a gap the sidecar cannot fill
 * arrives as such.
 */
import type { ClientReadableStream, Metadata } from '@grpc/grpc-js'
import type { DeliveryReportEvent, PartitionResult, ProducerSidecarClient } from '@kafka-sidecar/proto'

export interface ReportHandlers {
  onReport(requestId: number, result: PartitionResult): void
  onGap(firstSequence: number, lastSequence: number, reason: string): void
  /** The stream failed or ended: reports not read yet may never come (the sidecar may be gone). */
  onLost(): void
}

const MIN_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 2_000

export class ReportStream {
  private call: ClientReadableStream<DeliveryReportEvent> | null = null
  private lastSequence = 0
  private running = false
  private backoffMs = MIN_BACKOFF_MS
  private retryTimer: NodeJS.Timeout | null = null

  constructor(
    private readonly client: ProducerSidecarClient,
    private readonly metadata: () => Metadata,
    private readonly instanceId: string,
    private readonly handlers: ReportHandlers,
  ) {}

  get isRunning(): boolean {
    return this.running
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.open()
  }

  stop(): void {
    this.running = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const call = this.call
    this.call = null
    call?.cancel()
  }

  private open(): void {
    const call = this.client.deliveryReports(
      { instanceId: this.instanceId, afterSequence: this.lastSequence },
      this.metadata(),
    )
    this.call = call
    call.on('data', (event: DeliveryReportEvent) => {
      this.backoffMs = MIN_BACKOFF_MS
      const e = event.event
      if (!e) return
      if (e.$case === 'report') {
        // Sequences only grow within one sidecar's numbering; a restart begins again at 1 and
        // announces itself with a gap first, so the number is taken as it comes.
        this.lastSequence = e.value.sequence
        if (e.value.result) this.handlers.onReport(e.value.requestId, e.value.result)
      } else {
        this.lastSequence = e.value.lastSequence
        this.handlers.onGap(e.value.firstSequence, e.value.lastSequence, e.value.reason)
      }
    })
    const reopen = () => {
      if (this.call !== call) return
      this.call = null
      if (!this.running) return
      // A stream that failed or ended (rather than being stopped here) almost always means the
      // sidecar went away, and the one answering next numbers its reports from 1 again. Its
      // restart check (a client asking for more than it ever issued) misses once it has issued
      // more reports than this client had read from the old one: resuming after the old number
      // would skip its first reports, left to the acks after reportTimeoutMs. Reading what it
      // retains from the start is safe: the tracker ignores reports of requests it no longer
      // follows and records it already reported, so nothing is repeated. What was acked but not
      // yet reported is reported from its ack now (onLost): a restarted sidecar never reports it.
      this.lastSequence = 0
      this.handlers.onLost()
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null
        if (this.running) this.open()
      }, this.backoffMs)
      this.retryTimer.unref()
      this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2)
    }
    call.on('error', reopen)
    call.on('end', reopen)
  }
}

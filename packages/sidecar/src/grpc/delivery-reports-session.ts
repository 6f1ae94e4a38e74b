/**
 * One DeliveryReports stream: the reports of one producer instance after the sequence it asked
 * for, written as they are published, paused while the reader is slow, and ended at shutdown
 * once the reader has caught up.
 */
import type { ServerWritableStream } from '@grpc/grpc-js'
import type { DeliveryReportEvent, DeliveryReportsRequest } from '@kafka-sidecar/proto'
import type { DeliveryReports } from '../reports/delivery-reports.js'
import type { RingRead } from '../reports/report-ring.js'
import { toPartitionResult } from './convert.js'
import type { LeaderOf } from './emit-acks.js'
import type { OpenStreams } from './open-streams.js'

/** Report events written per pump before yielding to the event loop. */
const REPORT_BATCH = 256

export class DeliveryReportsSession {
  private readonly instanceId: string
  private cursor: number
  private paused = false
  private ended = false
  /** Set at shutdown: end the stream once every retained report has been written. */
  private endWhenCaughtUp = false
  private readonly unsubscribe: () => void
  private readonly releaseInstance: () => void

  constructor(
    private readonly call: ServerWritableStream<DeliveryReportsRequest, DeliveryReportEvent>,
    private readonly reports: DeliveryReports,
    private readonly leaderOf: LeaderOf,
    streams: OpenStreams,
  ) {
    this.instanceId = call.request.instanceId
    this.cursor = call.request.afterSequence
    this.restartIfRenumbered()
    this.unsubscribe = reports.subscribe(this.instanceId, () => this.pump())
    this.releaseInstance = streams.noteInstance(this.instanceId)
    const forget = streams.add({ end: () => this.endOnceCaughtUp() })
    call.on('cancelled', () => {
      this.stop()
      forget()
    })
    call.on('error', () => {})
    this.pump()
  }

  /**
   * A cursor beyond anything this ring issued means the numbering began again (the sidecar
   * restarted, or forgot an idle instance). Say so with a gap, then start from the oldest
   * report, so the client neither waits for sequences that will never come nor skips new ones.
   */
  private restartIfRenumbered(): void {
    const next = this.reports.nextSequence(this.instanceId)
    if (this.cursor < next) return
    this.call.write({
      event: {
        $case: 'gap',
        value: {
          firstSequence: next,
          lastSequence: this.cursor,
          reason:
            'sequence numbers restarted: this sidecar never issued these reports (it restarted or forgot an idle instance)',
        },
      },
    })
    this.cursor = 0
  }

  private pump(): void {
    while (!this.paused && !this.ended) {
      const entries = this.reports.read(this.instanceId, this.cursor, REPORT_BATCH)
      if (entries.length === 0) {
        if (this.endWhenCaughtUp) {
          this.stop()
          this.call.end()
        }
        return
      }
      if (!this.write(entries)) return
    }
  }

  /** Writes the entries; false once the reader fell behind and the pump paused. */
  private write(entries: readonly RingRead[]): boolean {
    for (const entry of entries) {
      this.cursor = entry.kind === 'gap' ? entry.lastSequence : entry.report.sequence
      // A slow reader pauses the pump instead of buffering in grpc-js: the ring is the buffer,
      // and what it overwrites meanwhile comes back to the reader as a gap.
      if (!this.call.write(reportEvent(entry, this.leaderOf))) {
        this.paused = true
        this.call.once('drain', () => {
          this.paused = false
          this.pump()
        })
        return false
      }
    }
    return true
  }

  private endOnceCaughtUp(): void {
    this.endWhenCaughtUp = true
    this.pump()
  }

  private stop(): void {
    if (this.ended) return
    this.ended = true
    this.unsubscribe()
    this.releaseInstance()
  }
}

function reportEvent(entry: RingRead, leaderOf: LeaderOf): DeliveryReportEvent {
  if (entry.kind === 'gap') {
    return {
      event: {
        $case: 'gap',
        value: {
          firstSequence: entry.firstSequence,
          lastSequence: entry.lastSequence,
          reason: 'reports were overwritten before this client read them (ring buffer full)',
        },
      },
    }
  }
  const { report } = entry
  return {
    event: {
      $case: 'report',
      value: {
        sequence: report.sequence,
        requestId: report.requestId,
        result: toPartitionResult(report.outcome, leaderOf(report.outcome.topic, report.outcome.partition)),
      },
    },
  }
}

/**
 * A delivery report: what became of one record, delivered as a local callback in both modes
 * (the `onDelivery` producer option and the `producer.events.DELIVERY` event).
 */
import type { IHeaders } from 'kafkajs'

export interface DeliveryReport {
  readonly topic: string
  /** The partition the record was written to (or was bound for), null when it never got one. */
  readonly partition: number | null
  /** The record's offset, as KafkaJS spells offsets (a string); null when unknown (acks 0, failure). */
  readonly offset: string | null
  /** The key and headers as the caller passed them. */
  readonly key: Buffer | string | null
  readonly headers: IHeaders | undefined
  /** Null when a broker acknowledged the record. */
  readonly error: Error | null
  /** Which path wrote (or failed to write) the record. */
  readonly path: 'sidecar' | 'direct'
}

export type DeliveryListener = (report: DeliveryReport) => void | Promise<void>

/** Where a producer's delivery reports go (its events): whether anyone listens, and each report. */
export interface DeliveryReportTarget {
  wantsReports(): boolean
  deliver(report: DeliveryReport): void
}

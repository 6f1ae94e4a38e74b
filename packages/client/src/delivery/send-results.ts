/**
 * The last step of a send (docs/architecture.md, "A record's route through the client"): what a
 * path answered, settled into what KafkaJS's producer gives (RecordMetadata[], or its error),
 * counted in the metrics, and reported record by record to delivery listeners (the sidecar's own
 * reports come through the tracker instead, see sidecar-delivery-tracker.ts).
 */
import kafkajs from 'kafkajs'
import type { Logger, RecordMetadata } from 'kafkajs'
import { countByTopic, type ProducerMetrics } from '../metrics.js'
import type { OutgoingMessage, OutgoingSend } from '../producer/messages.js'
import type { PartResult } from '../transport/emit-part.js'
import { SidecarUnavailableError, toKafkaJSError } from '../transport/sidecar-errors.js'
import { absentInDirectSend, isAbsentPartition, mergeAbsent, warnOfAbsentPartitions } from './absent-partitions.js'
import type { DeliveryReport, DeliveryReportTarget } from './delivery-report.js'
import { directReports } from './direct-reports.js'
import { toRecordMetadata } from './record-metadata.js'

export class SendResults {
  constructor(
    private readonly metrics: ProducerMetrics,
    private readonly log: Logger,
    private readonly reports: DeliveryReportTarget,
  ) {}

  /** KafkaJS-shaped metadata (one per topic-partition) from the sidecar's results, or throws the first error. */
  fromSidecar(send: OutgoingSend, allResults: readonly PartResult[]): RecordMetadata[] {
    const { outgoing } = send
    this.count(outgoing, (topic, n) => this.metrics.accepted(topic, n))
    // Records for a partition the topic lacks are left out, as KafkaJS leaves them out.
    const absent = allResults.filter((r) => isAbsentPartition(r.error))
    const results = allResults.filter((r) => !isAbsentPartition(r.error))
    warnOfAbsentPartitions(
      this.log,
      mergeAbsent(
        absent.map(({ topic, partition, localIndexes }) => ({ topic, partition, records: localIndexes.length })),
      ),
    )
    const failedResult = results.find((r) => r.error)
    if (failedResult) throw this.sidecarRecordsFailed(outgoing, allResults, failedResult)
    const absentIndexes = new Set(absent.flatMap((r) => r.localIndexes))
    this.count(
      outgoing.filter((_, i) => !absentIndexes.has(i)),
      (topic, n) => this.metrics.acked(topic, 'sidecar', n),
    )
    this.count(
      outgoing.filter((_, i) => absentIndexes.has(i)),
      (topic, n) => this.metrics.failed(topic, 'sidecar', n),
    )
    if ((send.acks ?? -1) === 0) return []
    return toRecordMetadata(results, outgoing)
  }

  /** The direct path's metadata, as KafkaJS gave it; reports for listeners, records KafkaJS left out said. */
  fromDirect(
    send: OutgoingSend,
    metadata: RecordMetadata[],
    partitions: ReadonlyArray<number | null>,
  ): RecordMetadata[] {
    const { outgoing } = send
    const absent = absentInDirectSend(outgoing, partitions, metadata, send.acks ?? -1)
    warnOfAbsentPartitions(this.log, absent)
    this.count(outgoing, (topic, n) => this.metrics.acked(topic, 'direct', n))
    if (this.reports.wantsReports())
      for (const report of directReports(outgoing, metadata, partitions, absent)) this.reports.deliver(report)
    return metadata
  }

  /**
   * Counts a failed send and, when this client (not the sidecar's report stream) is the one that
   * knows, reports every record of it as failed.
   */
  failed(
    outgoing: readonly OutgoingMessage[],
    path: DeliveryReport['path'],
    error: Error,
    reportHere: boolean,
    partitions: ReadonlyArray<number | null> = [],
  ): void {
    this.count(outgoing, (topic, n) => this.metrics.failed(topic, path, n))
    if (!reportHere || !this.reports.wantsReports()) return
    outgoing.forEach(({ topic, message }, index) => {
      this.reports.deliver({
        topic,
        partition: partitions[index] ?? null,
        offset: null,
        key: message.key ?? null,
        headers: message.headers,
        error,
        path,
      })
    })
  }

  /** A send the sidecar path failed under while the producer disconnected: not resent, its outcome told. */
  abandoned(outgoing: readonly OutgoingMessage[], failure: Error): Error {
    const written = failure instanceof SidecarUnavailableError && failure.outcomeUnknown
    const error = new kafkajs.KafkaJSError(
      written
        ? `outcome unknown: the producer disconnected while the sidecar had this send, which it may or may not have written (${failure.message})`
        : `not sent: the producer disconnected before the sidecar took this send (${failure.message})`,
      { retriable: true },
    )
    this.failed(outgoing, 'sidecar', error, true)
    return error
  }

  /**
   * As in KafkaJS the send rejects, though its records for other partitions may be written:
   * the metrics count each record as what became of it.
   */
  private sidecarRecordsFailed(
    outgoing: readonly OutgoingMessage[],
    allResults: readonly PartResult[],
    failedResult: PartResult,
  ): Error {
    const failedIndexes = new Set(allResults.flatMap((r) => (r.error ? r.localIndexes : [])))
    const error = toKafkaJSError(failedResult.error!)
    this.count(
      outgoing.filter((_, i) => !failedIndexes.has(i)),
      (topic, n) => this.metrics.acked(topic, 'sidecar', n),
    )
    this.failed(
      outgoing.filter((_, i) => failedIndexes.has(i)),
      'sidecar',
      error,
      false,
    )
    return error
  }

  /** Per-topic record counts for a metric, computed only when metrics are on. */
  private count(outgoing: readonly OutgoingMessage[], record: (topic: string, n: number) => void): void {
    if (this.metrics.enabled) for (const [topic, n] of countByTopic(outgoing)) record(topic, n)
  }
}

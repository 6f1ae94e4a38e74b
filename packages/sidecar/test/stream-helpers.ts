/** An EmitStream wrapper for tests: send requests, await their acks by request id. */
import type { ClientDuplexStream, Metadata } from '@grpc/grpc-js'
import type { DeliveryReportEvent, EmitAck, EmitRequest, ProducerSidecarClient } from '@kafka-sidecar/proto'
import { onTestFinished } from 'vitest'

export class TestStream {
  private readonly waiting = new Map<number, (ack: EmitAck) => void>()
  readonly acks: EmitAck[] = []
  readonly call: ClientDuplexStream<EmitRequest, EmitAck>
  readonly ended: Promise<void>

  constructor(client: ProducerSidecarClient, metadata?: Metadata) {
    this.call = metadata ? client.emitStream(metadata) : client.emitStream()
    this.call.on('data', (ack: EmitAck) => {
      this.acks.push(ack)
      this.waiting.get(ack.requestId)?.(ack)
      this.waiting.delete(ack.requestId)
    })
    this.ended = new Promise((resolve) => {
      this.call.on('end', () => resolve())
      this.call.on('error', () => resolve())
    })
    onTestFinished(() => {
      this.call.cancel()
    })
  }

  send(request: EmitRequest): Promise<EmitAck> {
    const acked = new Promise<EmitAck>((resolve) => this.waiting.set(request.requestId, resolve))
    this.call.write(request)
    return acked
  }

  end(): Promise<void> {
    this.call.end()
    return this.ended
  }
}

/** Collects DeliveryReports events until cancelled. */
export function collectReports(
  client: ProducerSidecarClient,
  instanceId: string,
  afterSequence = 0,
): { events: DeliveryReportEvent[]; cancel(): void } {
  const call = client.deliveryReports({ instanceId, afterSequence })
  const events: DeliveryReportEvent[] = []
  call.on('data', (event: DeliveryReportEvent) => events.push(event))
  call.on('error', () => {})
  onTestFinished(() => call.cancel())
  return { events, cancel: () => call.cancel() }
}

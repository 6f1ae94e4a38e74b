/**
 * The system under test for the fuzzer: one embedded cluster (brokers that never auto-create
 * topics) and one sidecar with small limits, reached through the generated client, a raw-bytes
 * client and the health service. A sidecar that failed a run is replaced before the next, so
 * shrinking replays each candidate on a fresh one.
 */
import { randomBytes } from 'node:crypto'
import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import {
  EmitAck,
  HealthClient,
  ProducerSidecarClient,
  type DeliveryReportEvent,
  type EmitRequest,
  type HealthCheckResponse_ServingStatus as ServingStatus,
} from '@kafka-sidecar/proto'
import { grpcTarget, startCluster, startTestSidecar } from '@kafka-sidecar/test-support'
import type { RunningSidecar } from '../../src/index.js'
import { emitRequest } from '../helpers.js'
import { FUZZ_LIMITS } from './oracle.js'
import { ALLOWED_PREFIX } from './scenario.js'

const SERVICE = '/kafka_sidecar.v1.ProducerSidecar'

/** A request's answer: an ack, or a refusal (a stream's error ack or a unary call's status). */
export type Answer =
  | { readonly kind: 'ack'; readonly ack: EmitAck; readonly afterMs: number }
  | {
      readonly kind: 'refusal'
      readonly code: number
      readonly message: string
      readonly kafkaErrorName: string
      readonly retriable: boolean
      readonly retryAfterMs: number
      readonly afterMs: number
    }
  /** Something no request should get: a malformed ack, a second ack, a broken stream. */
  | { readonly kind: 'broken'; readonly why: string; readonly afterMs: number }
  /** The client cancelled the stream before hearing back (or before writing it): the delivery reports tell. */
  | { readonly kind: 'unknown'; readonly written: boolean; readonly afterMs: number }

export interface Connections {
  readonly client: ProducerSidecarClient
  readonly raw: Client
  readonly health: HealthClient
}

export class FuzzTarget {
  private sidecar!: RunningSidecar
  private connections!: Connections
  /** Set when a run failed: the next run starts on a fresh sidecar. */
  dirty = false
  readonly canaryTopic = `${ALLOWED_PREFIX}canary-${randomBytes(5).toString('hex')}`
  canaryWrites = 0

  private constructor(readonly cluster: EmbeddedKafka) {}

  static async start(): Promise<FuzzTarget> {
    // One broker: runs are about the sidecar, and each extra broker is another connection to
    // set up per sidecar start. No auto-creation: a topic exists only if the test created it.
    const cluster = await startCluster({ brokers: 1, autoCreateTopics: false })
    const target = new FuzzTarget(cluster)
    await cluster.createTopic({ topic: target.canaryTopic, partitions: 1 })
    await target.startSidecar()
    return target
  }

  get running(): RunningSidecar {
    return this.sidecar
  }

  get grpc(): Connections {
    return this.connections
  }

  private async startSidecar(): Promise<void> {
    this.sidecar = await startTestSidecar(this.cluster, { ...FUZZ_LIMITS, allowedTopics: [`${ALLOWED_PREFIX}*`] })
    const address = grpcTarget(this.sidecar.address)
    this.connections = {
      client: new ProducerSidecarClient(address, credentials.createInsecure()),
      raw: new Client(address, credentials.createInsecure()),
      health: new HealthClient(address, credentials.createInsecure()),
    }
    this.dirty = false
  }

  async restart(): Promise<void> {
    await this.close()
    await this.startSidecar()
  }

  async close(): Promise<void> {
    this.connections.client.close()
    this.connections.raw.close()
    this.connections.health.close()
    await this.sidecar.stop()
  }

  /** The sidecar's gauges that must fall to zero when it is idle. */
  async gauges(): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const name of [
      'kafka_sidecar_queue_bytes',
      'kafka_sidecar_queue_records',
      'kafka_sidecar_batches_in_flight',
      'kafka_sidecar_connected_clients',
      'kafka_sidecar_report_subscribers',
    ]) {
      out[name] = (await this.sidecar.metrics.registry.getSingleMetric(name)!.get()).values[0]?.value ?? Number.NaN
    }
    return out
  }

  healthStatus(): Promise<ServingStatus | string> {
    return new Promise((resolve) =>
      this.connections.health.check(
        { service: '' },
        new Metadata(),
        { deadline: Date.now() + 5_000 },
        (error, response) => resolve(error ? `error ${error.code}: ${error.details}` : response!.status),
      ),
    )
  }

  /** A plain good request; resolves with what went wrong, or null. */
  async canary(): Promise<string | null> {
    const request = emitRequest(
      this.canaryTopic,
      [{ value: Buffer.from(`canary-${this.canaryWrites}`), partition: 0 }],
      { instanceId: 'fuzz-canary' },
    )
    const answer = await unary(this.connections.client, request, 10_000)
    if (answer.kind !== 'ack' || answer.ack.results.length !== 1 || answer.ack.results[0]!.error)
      return `canary request failed: ${JSON.stringify(answer)}`
    this.canaryWrites++
    const written = (await this.cluster.records(this.canaryTopic)).length
    return written === this.canaryWrites
      ? null
      : `canary topic holds ${written} records, ${this.canaryWrites} were acked`
  }
}

function refusalOf(error: ServiceError, afterMs: number): Answer {
  const meta = (key: string) => String(error.metadata?.get(key)[0] ?? '')
  return {
    kind: 'refusal',
    code: error.code,
    message: error.details,
    kafkaErrorName: meta('kafka-error-name'),
    retriable: meta('retriable') === 'true',
    retryAfterMs: Number(meta('retry-after-ms') || 0),
    afterMs,
  }
}

function ackAnswer(ack: EmitAck, afterMs: number): Answer {
  if (ack.received && ack.error === undefined) return { kind: 'ack', ack, afterMs }
  if (!ack.received && ack.error !== undefined && ack.results.length === 0) {
    const e = ack.error
    return {
      kind: 'refusal',
      code: e.grpcCode,
      message: e.message,
      kafkaErrorName: e.kafkaErrorName,
      retriable: e.retriable,
      retryAfterMs: e.retryAfterMs,
      afterMs,
    }
  }
  return { kind: 'broken', why: `malformed ack ${JSON.stringify(EmitAck.toJSON(ack))}`, afterMs }
}

/** Unary Emit through the generated client. No gRPC deadline: a hang must show as the sidecar's, bounded by the caller. */
export function unary(client: ProducerSidecarClient, request: EmitRequest, boundMs: number): Promise<Answer> {
  const started = Date.now()
  return bounded(
    new Promise((resolve) => {
      client.emit(request, (error, ack) =>
        resolve(error ? refusalOf(error, Date.now() - started) : ackAnswer(ack!, Date.now() - started)),
      )
    }),
    boundMs,
  )
}

/** Unary Emit with the request's bytes as given. */
export function rawUnary(raw: Client, bytes: Buffer, boundMs: number): Promise<Answer> {
  const started = Date.now()
  return bounded(
    new Promise((resolve) => {
      raw.makeUnaryRequest(
        `${SERVICE}/Emit`,
        (b: Buffer) => b,
        (b: Buffer) => EmitAck.decode(b),
        bytes,
        new Metadata(),
        {},
        (error, ack) => resolve(error ? refusalOf(error, Date.now() - started) : ackAnswer(ack!, Date.now() - started)),
      )
    }),
    boundMs,
  )
}

function bounded(answer: Promise<Answer>, boundMs: number): Promise<Answer> {
  let timer: NodeJS.Timeout
  const late = new Promise<Answer>(
    (resolve) =>
      (timer = setTimeout(
        () => resolve({ kind: 'broken', why: `no answer within ${boundMs} ms`, afterMs: boundMs }),
        boundMs,
      )),
  )
  return Promise.race([answer, late]).finally(() => clearTimeout(timer))
}

/**
 * One EmitStream (generated or raw), answering by request id: each id must get exactly one ack.
 * `end()` half-closes and resolves with the stream's final status.
 */
export class StreamCall<T> {
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; started: number }>()
  readonly problems: string[] = []
  cancelled = false
  private readonly status: Promise<string>

  constructor(private readonly call: ClientDuplexStream<T, EmitAck>) {
    call.on('data', (ack: EmitAck) => {
      const waiter = this.waiting.get(ack.requestId)
      // After the client's cancel, grpc-js may still hand over what had arrived: nobody awaits it.
      if (this.cancelled) return
      if (!waiter) {
        this.problems.push(
          `stream ack for request id ${ack.requestId}, which is not awaiting one: ${JSON.stringify(EmitAck.toJSON(ack))}`,
        )
        return
      }
      this.waiting.delete(ack.requestId)
      waiter.resolve(ackAnswer(ack, Date.now() - waiter.started))
    })
    this.status = new Promise((resolve) => {
      call.on('status', (s: { code: number; details: string }) =>
        resolve(s.code === 0 ? 'OK' : `status ${s.code}: ${s.details}`),
      )
      call.on('error', () => {})
    })
  }

  static generated(client: ProducerSidecarClient): StreamCall<EmitRequest> {
    return new StreamCall(client.emitStream())
  }

  static raw(raw: Client): StreamCall<Buffer> {
    return new StreamCall(
      raw.makeBidiStreamRequest(
        `${SERVICE}/EmitStream`,
        (b: Buffer) => b,
        (b: Buffer) => EmitAck.decode(b),
      ),
    )
  }

  send(id: number, message: T, boundMs: number): Promise<Answer> {
    if (this.cancelled) return Promise.resolve({ kind: 'unknown', written: false, afterMs: 0 })
    const answer = new Promise<Answer>((resolve) => this.waiting.set(id, { resolve, started: Date.now() }))
    this.call.write(message)
    return bounded(answer, boundMs)
  }

  /** Half-closes; resolves with 'OK' or what the stream ended with, or a timeout. */
  async end(boundMs: number): Promise<string> {
    this.call.end()
    let timer: NodeJS.Timeout
    const late = new Promise<string>(
      (resolve) =>
        (timer = setTimeout(() => resolve(`stream not ended within ${boundMs} ms of the client's end`), boundMs)),
    )
    const result = await Promise.race([this.status, late]).finally(() => clearTimeout(timer))
    this.call.cancel()
    return result
  }

  /** Cancels the call: what awaits an answer will never hear one. */
  cancel(): void {
    this.cancelled = true
    this.call.cancel()
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id)
      waiter.resolve({ kind: 'unknown', written: true, afterMs: Date.now() - waiter.started })
    }
  }
}

/** Collects DeliveryReports events for one instance until cancelled. */
export class ReportReader {
  readonly events: DeliveryReportEvent[] = []
  readonly errors: string[] = []
  private readonly call

  constructor(client: ProducerSidecarClient, instanceId: string) {
    this.call = client.deliveryReports({ instanceId, afterSequence: 0 })
    this.call.on('data', (event: DeliveryReportEvent) => this.events.push(event))
    this.call.on('error', (error: ServiceError) => {
      if (error.code !== 1) this.errors.push(`DeliveryReports(${instanceId}) failed: ${error.code} ${error.details}`)
    })
  }

  cancel(): void {
    this.call.cancel()
  }
}

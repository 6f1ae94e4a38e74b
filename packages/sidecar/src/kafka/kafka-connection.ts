/**
 * The sidecar's connection to Kafka: the producer and the admin connect in the background,
 * retrying every second, and once connected KafkaLiveness watches that the brokers still answer.
 * While not connected the sidecar is not ready (health NOT_SERVING) and refuses requests with
 * UNAVAILABLE, so clients fall back instead of waiting. Why it is not ready (which broker, which
 * Kafka error, how it connects) is kept for /readyz, gRPC health and the log.
 */
import type { HealthState } from '../grpc/health-service.js'
import type { KafkaClients } from './kafka-clients.js'
import { formatKafkaFailure, kafkaFailureOf } from './kafka-failure.js'
import { KafkaLiveness } from './kafka-liveness.js'
import type { KafkaSecurity } from './kafka-security.js'

const KAFKA_RECONNECT_MS = 1_000

export interface ConnectionSettings {
  readonly brokers: readonly string[]
  readonly kafkaProbeIntervalMs: number
}

export class KafkaConnection {
  private up = false
  private stopped = false
  private reconnectTimer: NodeJS.Timeout | null = null
  private notReadyReason = 'connecting'
  private readonly liveness: KafkaLiveness
  private resolveReady!: () => void
  /** Resolves once the producer and the admin first connected (readiness). */
  readonly ready = new Promise<void>((resolve) => (this.resolveReady = resolve))

  constructor(
    private readonly kafka: KafkaClients,
    private readonly health: HealthState,
    private readonly settings: ConnectionSettings,
    private readonly security: Pick<KafkaSecurity, 'description' | 'warnings' | 'secrets' | 'onAttemptFailure'>,
  ) {
    security.onAttemptFailure((error, broker) => this.attemptFailed(error, broker))
    this.liveness = new KafkaLiveness(
      // The probe's answer is the cluster's identity too: kept fresh across reconnects for free.
      () =>
        kafka.clusterIdentity.refresh().catch((error: unknown) => {
          throw new Error(this.describe(error))
        }),
      (up, reason) => this.livenessChanged(up, reason),
      {
        intervalMs: settings.kafkaProbeIntervalMs,
        timeoutMs: Math.max(1_000, settings.kafkaProbeIntervalMs),
        failuresToDown: 2,
      },
    )
  }

  /** Whether Kafka is connected and answering. */
  get connected(): boolean {
    return this.up
  }

  /** Why the sidecar is not connected: "connecting", or the last failure. */
  get reason(): string {
    return this.notReadyReason
  }

  start(): void {
    for (const warning of this.security.warnings)
      this.kafka.log.warn(warning, { connectsWith: this.security.description })
    this.connect()
    const { producer } = this.kafka
    producer.on(producer.events.DISCONNECT, () => this.setConnected(false, 'the producer disconnected'))
    void this.ready.then(() => this.liveness.start())
  }

  stop(): void {
    this.stopped = true
    this.liveness.stop()
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
  }

  private connect(): void {
    if (this.stopped) return
    Promise.all([this.kafka.producer.connect(), this.kafka.admin.connect()])
      // Ready only once the brokers answer a request after authenticating: KafkaJS counts an
      // OAUTHBEARER token the broker refused as authenticated (it ignores the broker's error
      // challenge) and learns otherwise only when its next request finds the connection closed.
      // The answer is the cluster's identity, known before the first client asks.
      .then(() => this.kafka.clusterIdentity.refresh())
      .then(
        () => this.connectedNow(),
        (error: unknown) => this.connectFailed(error),
      )
  }

  private connectFailed(error: unknown): void {
    const failure = kafkaFailureOf(error, this.security.secrets())
    this.setConnected(false, `cannot connect: ${formatKafkaFailure(failure, this.security.description)}`)
    this.kafka.log.warn('cannot connect to Kafka yet, retrying', {
      error: failure.message,
      kafkaError: failure.kafkaError,
      broker: failure.broker,
      connectsWith: this.security.description,
    })
    this.reconnectTimer = setTimeout(() => this.connect(), KAFKA_RECONNECT_MS).unref()
  }

  /** While not connected, the latest failed attempt is the reason, before KafkaJS gives up retrying. */
  private attemptFailed(error: unknown, broker: string): void {
    if (this.up || this.stopped) return
    const failure = kafkaFailureOf(error, this.security.secrets(), broker)
    this.setConnected(false, `cannot connect: ${formatKafkaFailure(failure, this.security.description)}`)
  }

  private connectedNow(): void {
    this.setConnected(true, 'ready')
    this.kafka.log.info('connected to Kafka', {
      brokers: this.settings.brokers,
      connectsWith: this.security.description,
    })
    this.resolveReady()
  }

  private describe(error: unknown): string {
    return formatKafkaFailure(kafkaFailureOf(error, this.security.secrets()), this.security.description)
  }

  private livenessChanged(up: boolean, reason: string): void {
    if (this.stopped) return
    this.setConnected(up, up ? 'ready' : `the brokers stopped answering: ${reason}`)
    if (up) this.kafka.log.info('Kafka reachable again: ready', { reason })
    else this.kafka.log.error('Kafka unreachable: not ready, refusing requests (clients fall back)', { reason })
  }

  private setConnected(up: boolean, reason: string): void {
    this.up = up
    this.notReadyReason = reason
    this.health.set(up, reason)
  }
}

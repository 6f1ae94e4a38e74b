/**
 * A sidecar as an operator watches it while it cannot reach Kafka: started without waiting for
 * readiness, its log entries kept, and why it is not ready as /readyz, gRPC health (the
 * `kafka-sidecar-reason` trailer) and the log tell it.
 */
import { credentials, type Metadata } from '@grpc/grpc-js'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { HealthCheckResponse_ServingStatus, HealthClient } from '@kafka-sidecar/proto'
import { grpcTarget, socketPath, waitFor, within } from '@kafka-sidecar/test-support'
import type { LogEntry } from 'kafkajs'
import { onTestFinished } from 'vitest'
import { startSidecar, type RunningSidecar, type StartOptions } from '../src/index.js'

export interface WatchedSidecar {
  readonly sidecar: RunningSidecar
  /** Every log entry so far (the sidecar's and KafkaJS's), at debug level. */
  readonly logs: LogEntry[]
}

/** A sidecar in front of `cluster`, not awaited ready, logging at debug into `logs`; stopped when the test ends. */
export async function startWatchedSidecar(
  cluster: Pick<EmbeddedKafka, 'bootstrapServers'>,
  options: StartOptions,
): Promise<WatchedSidecar> {
  const logs: LogEntry[] = []
  const sidecar = await startSidecar({
    brokers: cluster.bootstrapServers,
    listen: `unix://${await socketPath()}`,
    http: '127.0.0.1:0',
    logLevel: 'debug',
    logCreator: () => (entry) => void logs.push(entry),
    shutdownTimeoutMs: 1_000,
    kafkaProbeIntervalMs: 200,
    ...options,
  })
  onTestFinished(async () => {
    await sidecar.stop()
  })
  return { sidecar, logs }
}

/** /readyz: its status and its text. */
export async function readyz(sidecar: RunningSidecar): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${sidecar.httpAddress}/readyz`)
  return { status: response.status, text: (await response.text()).trim() }
}

/** gRPC health's Check: the status, and the reason trailer a sidecar that is not serving sends. */
export function healthCheck(sidecar: RunningSidecar): Promise<{ serving: boolean; reason: string | undefined }> {
  const client = new HealthClient(grpcTarget(sidecar.address), credentials.createInsecure())
  onTestFinished(() => client.close())
  return new Promise((resolve, reject) => {
    let status: HealthCheckResponse_ServingStatus | undefined
    const call = client.check({ service: '' }, (error, response) => {
      if (error) reject(error)
      status = response?.status
    })
    call.on('status', ({ metadata }: { metadata: Metadata }) =>
      resolve({
        serving: status === HealthCheckResponse_ServingStatus.SERVING,
        reason: metadata.get('kafka-sidecar-reason')[0]?.toString(),
      }),
    )
  })
}

/** Waits until /readyz's text matches `reason` (a 503), and returns it. */
export async function notReadyBecause(sidecar: RunningSidecar, reason: RegExp, timeoutMs = 15_000): Promise<string> {
  let last = { status: 0, text: '' }
  await waitFor(
    () => `/readyz to match ${reason} (last: ${last.status} ${last.text})`,
    async () => {
      last = await readyz(sidecar)
      return last.status === 503 && reason.test(last.text)
    },
    timeoutMs,
  )
  return last.text
}

/** Resolves once the sidecar is ready. */
export function readyWithin(sidecar: RunningSidecar, ms: number): Promise<void> {
  return within(sidecar.ready, ms, 'the sidecar ready')
}

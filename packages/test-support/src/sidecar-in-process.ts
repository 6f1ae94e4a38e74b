import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { startSidecar, type RunningSidecar, type StartOptions } from '@kafka-sidecar/sidecar'
import { onTestFinished } from 'vitest'
import { socketPath } from './temp-dir.js'

/**
 * A sidecar in this process in front of `cluster`, ready (connected to Kafka), on a Unix socket in
 * a fresh temp dir with its HTTP endpoints on 127.0.0.1:0, silent; stopped when the test ends.
 */
export async function startTestSidecar(cluster: EmbeddedKafka, options: StartOptions = {}): Promise<RunningSidecar> {
  const sidecar = await startSidecar({
    brokers: cluster.bootstrapServers,
    listen: `unix://${await socketPath()}`,
    http: '127.0.0.1:0',
    logLevel: 'nothing',
    shutdownTimeoutMs: 2_000,
    ...options,
  })
  onTestFinished(async () => {
    await sidecar.stop()
  })
  await sidecar.ready
  return sidecar
}

import { credentials, Metadata } from '@grpc/grpc-js'
import { HealthCheckResponse_ServingStatus, HealthClient } from '@kafka-sidecar/proto'
import { grpcTarget } from './grpc-target.js'
import { waitFor } from './waiting.js'

/**
 * Resolves once the sidecar at `address` reports SERVING on gRPC health (it is connected to Kafka).
 * No vitest import: the fault-matrix benchmark waits with it too.
 */
export async function sidecarReady(address: string, timeoutMs = 10_000): Promise<void> {
  const health = new HealthClient(grpcTarget(address), credentials.createInsecure())
  try {
    await waitFor(
      `the sidecar at ${address} to be ready`,
      () =>
        new Promise<boolean>((resolve) =>
          health.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1_000 }, (error, response) =>
            resolve(!error && response?.status === HealthCheckResponse_ServingStatus.SERVING),
          ),
        ),
      timeoutMs,
    )
  } finally {
    health.close()
  }
}

/**
 * Which cluster a run uses, from the flags and the environment, shared by `pnpm compare` and
 * `pnpm soak`: KAFKA_BROKERS set means the team's own cluster (external-cluster.ts), otherwise an
 * embedded-kafka with --security's listeners (embedded-cluster.ts).
 */
import { randomBytes } from 'node:crypto'
import type { ClusterUnderTest } from './cluster-under-test.js'
import { SECURITY_CHOICES, startEmbeddedCluster, type Security } from './embedded-cluster.js'
import { connectExternalCluster } from './external-cluster.js'

/** parseArgs options both programs take. */
export const CLUSTER_FLAGS = {
  security: { type: 'string' },
  'keep-topics': { type: 'boolean', default: false },
} as const

export type ClusterChoice =
  | { readonly kind: 'external'; readonly keepTopics: boolean }
  | { readonly kind: 'embedded'; readonly security: Security }

/** The choice, or exit code 2 with a message naming what cannot go together. */
export function chooseCluster(
  flags: { security?: string; 'keep-topics'?: boolean },
  env: NodeJS.ProcessEnv,
  usage: string,
): ClusterChoice {
  const refuse = (message: string): never => {
    console.error(`${message}\n${usage}`)
    process.exit(2)
  }
  if (env.KAFKA_BROKERS) {
    if (flags.security !== undefined)
      refuse(
        `--security sets up the embedded cluster's listeners, but KAFKA_BROKERS=${env.KAFKA_BROKERS} names an external cluster: give its TLS/SASL settings as KAFKA_SSL*/KAFKA_SASL_* variables, or unset KAFKA_BROKERS`,
      )
    return { kind: 'external', keepTopics: flags['keep-topics'] ?? false }
  }
  const security = flags.security ?? 'plaintext'
  if (!(SECURITY_CHOICES as readonly string[]).includes(security))
    refuse(`--security must be one of ${SECURITY_CHOICES.join(', ')}, got ${JSON.stringify(security)}`)
  return { kind: 'embedded', security: security as Security }
}

export interface OpenOptions {
  readonly env: NodeJS.ProcessEnv
  /** The run's temp dir: the embedded cluster's CA and password files go there. */
  readonly dir: string
  /** Embedded only: enough retention to keep every record of the run. */
  readonly retentionBytes: number
}

export function openCluster(choice: ClusterChoice, options: OpenOptions): Promise<ClusterUnderTest> {
  return choice.kind === 'external'
    ? connectExternalCluster({ env: options.env, keepTopics: choice.keepTopics })
    : startEmbeddedCluster({ security: choice.security, retentionBytes: options.retentionBytes, dir: options.dir })
}

/** An id for one run: its time and a random part, so two runs on one cluster never share a topic. */
export function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** A topic no earlier run used: `kafka-sidecar-<program>-<run id>-<suffix>`. */
export function runTopic(program: string, runId: string, suffix: string): string {
  return `kafka-sidecar-${program}-${runId}-${suffix}`
}

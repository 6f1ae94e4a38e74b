/**
 * The processes of one pod, as the multi-process tests run them: consumer-worker.ts as child
 * processes (killed by their PID by the test, or when it ends), and what they printed, read back
 * as records processed, group joins and events.
 */
import { fileURLToPath } from 'node:url'
import type { EmbeddedKafka } from '@kafka-sidecar/embedded-kafka'
import { spawnProgram, waitFor, type RunningProgram } from '@kafka-sidecar/test-support'

const WORKER = fileURLToPath(new URL('./consumer-worker.ts', import.meta.url))

export interface WorkerLine {
  readonly pid: number
  readonly event: 'record' | 'join' | 'rebalancing' | 'crash' | 'ready'
  readonly p?: number
  readonly o?: number
  readonly v?: string
  readonly assignment?: Record<string, number[]>
  readonly duration?: number
  /** When it happened (Date.now() in the worker). */
  readonly t?: number
}

export interface PodWorker {
  readonly program: RunningProgram
  readonly pid: number
  lines(): WorkerLine[]
  records(): WorkerLine[]
  /** The partitions of its last GROUP_JOIN, or [] before one. */
  partitions(topic: string): number[]
}

export interface WorkerSetup {
  readonly cluster: EmbeddedKafka
  readonly topic: string
  readonly groupId: string
  /** `kafkajs`: the program imports KafkaJS; `sidecar`: the client, KAFKA_SIDECAR_CONSUMER_MODE=sidecar. */
  readonly mode: 'kafkajs' | 'sidecar'
  /** The sidecar's address (sidecar mode). */
  readonly address?: string
  readonly delayMs?: number
}

export function startWorker(setup: WorkerSetup): PodWorker {
  const program = spawnProgram(WORKER, {
    env: {
      WORKER_IMPORT: setup.mode === 'kafkajs' ? 'kafkajs' : 'client',
      WORKER_BROKERS: setup.cluster.bootstrapServers.join(','),
      WORKER_TOPIC: setup.topic,
      WORKER_GROUP: setup.groupId,
      WORKER_DELAY_MS: String(setup.delayMs ?? 0),
      ...(setup.mode === 'sidecar'
        ? { KAFKA_SIDECAR_CONSUMER_MODE: 'sidecar', KAFKA_SIDECAR_ADDRESS: setup.address! }
        : {}),
    },
  })
  const read = lineReader(program)
  const lines = () => read().all.slice()
  return {
    program,
    pid: program.pid,
    lines,
    records: () => read().records.slice(),
    partitions: (topic) =>
      lines()
        .filter((l) => l.event === 'join')
        .at(-1)?.assignment?.[topic] ?? [],
  }
}

/**
 * The worker's complete lines, each parsed once: tests poll these every few milliseconds while the
 * cluster's brokers share the test's event loop, so parsing all the output at every poll (thousands
 * of lines under load) would stall the brokers for seconds and make the faults the tests measure.
 */
function lineReader(program: RunningProgram): () => { all: WorkerLine[]; records: WorkerLine[] } {
  const parsed = { all: [] as WorkerLine[], records: [] as WorkerLine[] }
  let read = 0
  return () => {
    const out = program.stdout()
    const end = out.lastIndexOf('\n') + 1
    if (end > read) {
      for (const text of out.slice(read, end).split('\n')) {
        if (!text.startsWith('{')) continue
        const line = JSON.parse(text) as WorkerLine
        parsed.all.push(line)
        if (line.event === 'record') parsed.records.push(line)
      }
      read = end
    }
    return parsed
  }
}

/** Waits until every worker printed `ready` (its run() resolved: it has joined). */
export async function allReady(workers: readonly PodWorker[], timeoutMs = 20_000): Promise<void> {
  await waitFor(
    () => `every worker ready; stderr: ${workers.map((w) => w.program.stderr()).join('\n')}`,
    () => workers.every((w) => w.lines().some((l) => l.event === 'ready')),
    timeoutMs,
  )
}

/** Every record line of `workers`, with how often each value was processed. */
export function tally(workers: readonly PodWorker[]): { all: WorkerLine[]; counts: Map<string, number> } {
  const all = workers.flatMap((w) => w.records())
  const counts = new Map<string, number>()
  for (const r of all) counts.set(r.v!, (counts.get(r.v!) ?? 0) + 1)
  return { all, counts }
}

/** Sum over brokers of the peak connections since the last reset. */
export function peakConnections(cluster: EmbeddedKafka): number {
  return cluster.connectionStats().reduce((sum, s) => sum + s.peak, 0)
}

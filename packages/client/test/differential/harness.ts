/**
 * The parent's side of a differential run: two embedded clusters (one auto-creates topics, one
 * does not), a real sidecar for each on a Unix socket in a temp dir, and one application child
 * process per mode and module system running the whole corpus against the built package. After
 * a child ends, what it left in Kafka is read from the cluster's own state.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EmbeddedKafka, type EmbeddedBatch, type EmbeddedRecord } from '@kafka-sidecar/embedded-kafka'
import { startSidecar, type RunningSidecar } from '@kafka-sidecar/sidecar'
import { kafkajsClusterId, randomTopic } from '@kafka-sidecar/test-support'
import {
  corpus,
  planPass,
  type ClusterName,
  type Mode,
  type ModuleSystem,
  type Plan,
  type PlannedProgram,
  type RawResult,
} from './plan.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const packageDir = fileURLToPath(new URL('../..', import.meta.url))
/** After the result is written, how long the process gets to exit by itself. */
const EXIT_GRACE_MS = 5_000
/** The longest one child may take (the corpus, every pass). */
const CHILD_TIMEOUT_MS = 120_000

export interface Environment {
  /** PIDs of application processes still running; stop() kills them. */
  readonly children: Set<number>
  readonly clusters: Readonly<Record<ClusterName, EmbeddedKafka>>
  readonly sidecars: Readonly<Record<ClusterName, RunningSidecar>>
  /** Kafka's cluster id by cluster, as the instrumentation may report it. */
  readonly clusterIds: Readonly<Record<ClusterName, string>>
  readonly dir: string
  stop(): Promise<void>
}

export async function startEnvironment(): Promise<Environment> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-sidecar-differential-'))
  const started: Array<{ stop(): Promise<unknown> }> = []
  const children = new Set<number>()
  const stop = async () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    for (const thing of started.reverse()) await thing.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const main = await EmbeddedKafka.start({ brokers: 3, autoCreateTopics: true })
    started.push(main)
    const strict = await EmbeddedKafka.start({ brokers: 2, autoCreateTopics: false })
    started.push(strict)
    const sidecarFor = async (cluster: EmbeddedKafka, name: string) => {
      // The sidecar as deployed: its defaults, only the address and quiet logs chosen here.
      const sidecar = await startSidecar({
        brokers: cluster.bootstrapServers,
        listen: `unix://${join(dir, `${name}.sock`)}`,
        http: null,
        logLevel: 'nothing',
        shutdownTimeoutMs: 2_000,
      })
      started.push(sidecar)
      await sidecar.ready
      return sidecar
    }
    const sidecars = { main: await sidecarFor(main, 'main'), strict: await sidecarFor(strict, 'strict') }
    const clusterIds = {
      main: await kafkajsClusterId(main, 'differential-parent'),
      strict: await kafkajsClusterId(strict, 'differential-parent'),
    }
    return { children, clusters: { main, strict }, sidecars, clusterIds, dir, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * A plan with `passes` fresh passes over the corpus, their topics created. The embedded cluster
 * hands out partition leaders round-robin, continuing across topics, and KafkaJS orders
 * RecordMetadata by leader: so that every run's topics get the same leader layout, plans are
 * prepared one after the other before any application runs, and each pass's topics are padded
 * with a spare topic to a whole number of rounds.
 */
export async function preparePlan(env: Environment, mode: Mode, passes: number): Promise<Plan> {
  const planned = Array.from({ length: passes }, () => planPass())
  for (const pass of planned) {
    const created: Record<ClusterName, number> = { main: 0, strict: 0 }
    for (const program of pass) {
      const declaration = corpus.find((p) => p.name === program.name)!
      for (const [key, topic] of Object.entries(program.topics)) {
        const declared = declaration.topics[key]!
        if (declared.create === false) continue
        await env.clusters[program.cluster].createTopic({ topic, partitions: declared.partitions ?? 1 })
        created[program.cluster] += declared.partitions ?? 1
      }
    }
    for (const name of ['main', 'strict'] as const) {
      const brokers = env.clusters[name].bootstrapServers.length
      const pad = (brokers - (created[name] % brokers)) % brokers
      if (pad > 0) await env.clusters[name].createTopic({ topic: randomTopic('diff-pad'), partitions: pad })
    }
  }
  const cluster = (name: ClusterName) => ({
    brokers: env.clusters[name].bootstrapServers,
    sidecarAddress: mode === 'sidecar' ? env.sidecars[name].address : null,
  })
  return { clusters: { main: cluster('main'), strict: cluster('strict') }, passes: planned }
}

export interface ProcessOutcome {
  /** The process ended by itself within EXIT_GRACE_MS of writing its result. */
  readonly exitedByItself: boolean
  /** From writing its result to its exit (killed or not). */
  readonly exitMs: number | null
  /** What kept it alive a second after it wrote its result (process.getActiveResourcesInfo()), if it was still running. */
  readonly keptAliveBy: readonly string[] | null
  readonly code: number | null
  readonly signal: string | null
  readonly stderr: string
  readonly wallMs: number
}

export interface ChildRun {
  readonly mode: Mode
  readonly system: ModuleSystem
  readonly plan: Plan
  readonly result: RawResult | null
  readonly process: ProcessOutcome
}

/**
 * One application process: `node --require tracing-register.cjs app-runner.cjs` (CommonJS) or
 * `node --import tracing-register.mjs app-runner.mjs` (ESM), loading `kafkajs` (plain) or the
 * built `@kafka-sidecar/client` (cwd is the package, so the name resolves through its exports
 * to dist/ as in an application). Killed by PID if it outlives its time.
 */
export async function runChild(env: Environment, mode: Mode, system: ModuleSystem, plan: Plan): Promise<ChildRun> {
  const id = `${mode}-${system}-${randomBytes(4).toString('hex')}`
  const planFile = join(env.dir, `${id}.plan.json`)
  const resultFile = join(env.dir, `${id}.result.json`)
  await writeFile(planFile, JSON.stringify(plan))
  const args =
    system === 'cjs'
      ? ['--require', join(here, 'tracing-register.cjs'), join(here, 'app-runner.cjs')]
      : ['--import', join(here, 'tracing-register.mjs'), join(here, 'app-runner.mjs')]
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('KAFKA') && !key.startsWith('NODE_OPTIONS') && !key.startsWith('VITEST'),
    ),
  )
  const started = Date.now()
  const child = spawn(process.execPath, args, {
    cwd: packageDir,
    env: {
      ...inherited,
      DIFF_MODULE: mode === 'plain' ? 'kafkajs' : '@kafka-sidecar/client',
      DIFF_PLAN: planFile,
      DIFF_RESULT: resultFile,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      // Producers and consumers alike: their modes are separate variables (direct is the default).
      ...(mode === 'plain' ? {} : { KAFKA_SIDECAR_MODE: mode }),
      ...(mode === 'sidecar' ? { KAFKA_SIDECAR_CONSUMER_MODE: 'sidecar' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  env.children.add(child.pid!)
  let stderr = ''
  let written = false
  let killedAfterResult = false
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL')
  }
  let graceTimer: NodeJS.Timeout | undefined
  let writtenAt = 0
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (written || !chunk.includes('differential: result written')) return
    written = true
    writtenAt = Date.now()
    graceTimer = setTimeout(() => {
      killedAfterResult = true
      kill()
    }, EXIT_GRACE_MS)
  })
  const overall = setTimeout(kill, CHILD_TIMEOUT_MS)
  const { code, signal } = await exited
  env.children.delete(child.pid!)
  clearTimeout(overall)
  clearTimeout(graceTimer)
  const result = written ? (JSON.parse(await readFile(resultFile, 'utf8')) as RawResult) : null
  const keptAliveBy = await readFile(`${resultFile}.alive`, 'utf8').then(
    (text) => JSON.parse(text) as string[],
    () => null,
  )
  return {
    mode,
    system,
    plan,
    result,
    process: {
      exitedByItself: written && !killedAfterResult,
      exitMs: written ? Date.now() - writtenAt : null,
      keptAliveBy,
      code,
      signal,
      stderr,
      wallMs: Date.now() - started,
    },
  }
}

// --- what is in Kafka afterwards -----------------------------------------------------------------

export interface StoredRecord extends EmbeddedRecord {
  readonly batch: EmbeddedBatch
}

export interface TopicState {
  /** null: the topic does not exist. */
  readonly partitions: number | null
  readonly records: readonly StoredRecord[]
}

/** Per pass, per program, per declared topic: the topic's records with their batch headers. */
export type KafkaState = Array<Array<Record<string, TopicState>>>

async function topicState(cluster: EmbeddedKafka, topic: string): Promise<TopicState> {
  if (!cluster.topics().includes(topic)) return { partitions: null, records: [] }
  const batches = cluster.batches(topic)
  const records = (await cluster.records(topic)).map((record) => ({
    ...record,
    batch: batches.find(
      (b) => b.partition === record.partition && b.baseOffset <= record.offset && record.offset <= b.lastOffset,
    )!,
  }))
  return { partitions: cluster.offsets(topic).length, records }
}

export async function readKafka(env: Environment, plan: Plan): Promise<KafkaState> {
  const state: KafkaState = []
  for (const pass of plan.passes) {
    const programs: Array<Record<string, TopicState>> = []
    for (const program of pass as readonly PlannedProgram[]) {
      const topics: Record<string, TopicState> = {}
      for (const [key, topic] of Object.entries(program.topics))
        topics[key] = await topicState(env.clusters[program.cluster], topic)
      programs.push(topics)
    }
    state.push(programs)
  }
  return state
}

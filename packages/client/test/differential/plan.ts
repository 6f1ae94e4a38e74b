/**
 * What the parent and an application process agree on: the corpus's declarations, the plan a
 * child runs (clusters, and per pass the random topic names and ids of every program), and the
 * raw result it writes back. Types only, and the one place that loads corpus.cjs.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'

/** plain: `kafkajs` itself; direct and sidecar: `@kafka-sidecar/client` with KAFKA_SIDECAR_MODE set so. */
export type Mode = 'plain' | 'direct' | 'sidecar'
export type ComparedMode = Exclude<Mode, 'plain'>
export type ModuleSystem = 'cjs' | 'esm'
export type ClusterName = 'main' | 'strict'

export const MODES: readonly ComparedMode[] = ['direct', 'sidecar']
export const MODULE_SYSTEMS: readonly ModuleSystem[] = ['cjs', 'esm']

export interface TopicDeclaration {
  /** Created before the program runs (default), or left for the program to find missing. */
  readonly create?: boolean
  readonly partitions?: number
}

export interface ProgramDeclaration {
  readonly name: string
  readonly about: string
  /** `main` auto-creates topics; `strict` does not. Default main. */
  readonly cluster?: ClusterName
  readonly topics: Readonly<Record<string, TopicDeclaration>>
  readonly ids?: readonly string[]
}

const require = createRequire(import.meta.url)
/** DIFF_ONLY (a regular expression of program names): a quicker run while writing a program; see README.md. */
export const ONLY = process.env.DIFF_ONLY ? new RegExp(process.env.DIFF_ONLY) : null
export const corpus: readonly ProgramDeclaration[] = (
  require('./corpus.cjs') as { programs: ProgramDeclaration[] }
).programs.filter((program) => ONLY === null || ONLY.test(program.name))

export interface PlannedProgram {
  readonly name: string
  readonly cluster: ClusterName
  /** Declared topic name -> the real, random name for this pass. */
  readonly topics: Readonly<Record<string, string>>
  readonly ids: Readonly<Record<string, string>>
}

export interface Plan {
  readonly clusters: Readonly<
    Record<ClusterName, { readonly brokers: readonly string[]; readonly sidecarAddress: string | null }>
  >
  /** One list of programs per pass; the baseline runs the corpus more than once to learn what varies by itself. */
  readonly passes: ReadonlyArray<readonly PlannedProgram[]>
}

export function planPass(programs: readonly ProgramDeclaration[] = corpus): PlannedProgram[] {
  const random = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`
  return programs.map((program) => ({
    name: program.name,
    cluster: program.cluster ?? 'main',
    topics: Object.fromEntries(Object.keys(program.topics).map((key) => [key, random(`diff-${key}`)])),
    ids: Object.fromEntries((program.ids ?? []).map((key) => [key, random(`diff-${key}`)])),
  }))
}

// --- what a child writes (run-programs.cjs) ---------------------------------------------------

/** A value as run-programs.cjs describes it: JSON, with `$buffer`, `$undefined`, `$error` ... objects. */
export type Described = unknown

export interface RawStep {
  readonly label: string
  readonly start: number
  readonly end?: number
  readonly sync?: boolean
  readonly ok?: boolean
  readonly value?: Described
  readonly error?: Described
}

export interface RawSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly name: string
  readonly kind: number
  readonly attributes: Record<string, Described>
  readonly status: { readonly code: number; readonly message: string | null }
  readonly events: readonly string[]
  readonly links: number
  readonly scope: string | null
}

export interface RawProgramResult {
  readonly name: string
  readonly timedOut: boolean
  readonly durationMs: number
  readonly appSpan: { readonly traceId: string; readonly spanId: string }
  readonly steps: readonly RawStep[]
  readonly events: ReadonlyArray<{ readonly producer: string; readonly event: Described }>
  readonly notes: ReadonlyArray<{ readonly label: string; readonly value: Described }>
  readonly spans: readonly RawSpan[]
  readonly handles: readonly string[]
}

export interface RawResult {
  readonly passes: ReadonlyArray<readonly RawProgramResult[]>
}

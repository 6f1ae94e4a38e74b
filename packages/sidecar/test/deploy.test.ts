/**
 * The deployment files and the operator docs, checked against the code they describe:
 *
 * - deploy/kubernetes/pod.yaml and deploy/docker/Dockerfile name only environment variables the
 *   sidecar (OPTIONS) or the client (SIDECAR_ENV) reads; the sidecar container's values pass the
 *   sidecar's own config validation, the app container's the client's, and both agree on the
 *   socket, the probes and the shutdown budget.
 * - deploy/prometheus/alerts.yaml and deploy/grafana/kafka-sidecar-dashboard.json query only
 *   metrics the code registers (names from instantiated metric objects, histogram series
 *   suffixes included), with labels those metrics have and label values the code emits.
 * - docs/metrics.md has a row for every metric, docs/configuration.md one for every option (with
 *   the sidecar's defaults).
 *
 * No YAML library is a dependency of this workspace, so the YAML files are read by a small
 * parser for the subset they are written in; it throws on anything outside that subset.
 */
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { status } from '@grpc/grpc-js'
import { Registry } from 'prom-client'
import { beforeAll, describe, expect, it } from 'vitest'
import { Kafka, SIDECAR_ENV as CLIENT_ENV, resolveSidecarOptions } from '@kafka-sidecar/client'
import { waitFor } from '@kafka-sidecar/test-support'
import { OPTIONS, optionsFromEnv, resolveConfig } from '../src/config.js'
import { isLoopback } from '../src/listen-address.js'
import { SidecarMetrics } from '../src/metrics.js'

const ROOT = new URL('../../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8')

// --- what the code defines ---------------------------------------------------------------------

/**
 * The client's metrics, registered as an application gets them: a producer and a sidecar-mode
 * consumer of a Kafka with `sidecarMetrics` (neither connects). prom-client loads asynchronously,
 * then each registers all of its metrics at once.
 */
async function registerClientMetrics(registry: Registry): Promise<void> {
  const kafka = new Kafka({
    clientId: 'deploy-test',
    brokers: ['127.0.0.1:9'],
    sidecarMetrics: { registry },
    sidecar: { consumerMode: 'sidecar' },
  })
  kafka.producer()
  kafka.consumer({ groupId: 'deploy-test' })
  await waitFor('the client metrics to be registered', () =>
    ['kafka_sidecar_client_mode', 'kafka_sidecar_client_consumer_mode'].every((n) => registry.getSingleMetric(n)),
  )
}

interface MetricInfo {
  readonly type: string
  readonly labels: readonly string[]
  readonly help: string
}

let registered: Promise<Map<string, MetricInfo>> | undefined
/** Every metric both sides register, read from instantiated metric objects (built once). */
const registeredMetrics = () => (registered ??= collectRegisteredMetrics())

async function collectRegisteredMetrics(): Promise<Map<string, MetricInfo>> {
  const metrics = new Map<string, MetricInfo>()
  const collect = async (registry: Registry) => {
    for (const m of await registry.getMetricsAsJSON()) {
      const labels = (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? []
      metrics.set(m.name, { type: String(m.type), labels, help: m.help })
    }
  }
  const sidecar = new SidecarMetrics({
    queuedRecords: () => 0,
    queuedBytes: () => 0,
    batchesInFlight: () => 0,
    connectedClients: () => 0,
    reportSubscribers: () => 0,
    kafkaConnected: () => true,
    idempotentProducerReady: () => false,
  })
  // The consumer gauges, as the Sidecar class registers them once its consumer groups exist.
  sidecar.watchConsumers({ groups: () => [], sessions: () => [], lag: async () => [] })
  await collect(sidecar.registry)
  const clientRegistry = new Registry()
  await registerClientMetrics(clientRegistry)
  await collect(clientRegistry)
  return metrics
}

const SIDECAR_ENV = new Set(OPTIONS.map((o) => o.env))
const CLIENT_ENV_NAMES = new Set<string>(Object.values(CLIENT_ENV))
/** Labels Prometheus attaches at scrape time; dashboards and alerts may group by them. */
const TARGET_LABELS = new Set(['instance', 'job', 'namespace', 'pod', 'container'])
/** The sidecar's shutdown after shutdownTimeoutMs: 1 s for batches at the brokers, 2 s for streams (sidecar.ts). */
const SHUTDOWN_TAIL_MS = 3_000

// --- a YAML reader for the subset the deploy files use ------------------------------------------

type Yaml = string | Yaml[] | { [key: string]: Yaml }

function parseYaml(text: string): Yaml {
  if (text.includes('\t')) throw new Error('YAML: tab character')
  const lines = text.split('\n')
  let i = 0
  const indentOf = (s: string) => s.length - s.trimStart().length
  const skippable = (s: string) => s.trim() === '' || s.trim().startsWith('#')
  const skip = () => {
    while (i < lines.length && skippable(lines[i]!)) i++
  }
  const fail = (message: string): never => {
    throw new Error(`YAML line ${i + 1}: ${message}: ${JSON.stringify(lines[i])}`)
  }
  const stripComment = (s: string) => {
    let quote: string | null = null
    for (let k = 0; k < s.length; k++) {
      const c = s[k]!
      if (quote) {
        if (c === quote) quote = null
      } else if (c === '"' || c === "'") quote = c
      else if (c === '#' && (k === 0 || s[k - 1] === ' ')) return s.slice(0, k).trimEnd()
    }
    return s.trimEnd()
  }
  const scalar = (raw: string): Yaml => {
    const s = stripComment(raw).trim()
    if (s.startsWith('"')) return JSON.parse(s) as string
    if (s.startsWith("'")) {
      if (!s.endsWith("'") || s.length < 2) fail('unterminated single-quoted string')
      return s.slice(1, -1).replaceAll("''", "'")
    }
    if (s.startsWith('[')) return JSON.parse(s) as Yaml[]
    if (/^[{&*!|>%@`]/.test(s)) fail('unsupported YAML construct')
    return s
  }
  const block = (): Yaml => {
    skip()
    if (i >= lines.length) fail('expected a value')
    const line = lines[i]!
    const indent = indentOf(line)
    return line.slice(indent).startsWith('- ') ? sequence(indent) : mapping(indent)
  }
  const blockScalar = (parentIndent: number, folded: boolean): string => {
    const body: string[] = []
    while (i < lines.length && (lines[i]!.trim() === '' || indentOf(lines[i]!) > parentIndent)) body.push(lines[i++]!)
    while (body.length > 0 && body[body.length - 1]!.trim() === '') body.pop()
    const indent = Math.min(...body.filter((l) => l.trim() !== '').map(indentOf))
    const text = body.map((l) => l.slice(indent)).join(folded ? ' ' : '\n')
    return `${text}\n`
  }
  const mapping = (indent: number): { [key: string]: Yaml } => {
    const out: { [key: string]: Yaml } = {}
    for (;;) {
      skip()
      if (i >= lines.length) return out
      const line = lines[i]!
      const lineIndent = indentOf(line)
      if (lineIndent < indent) return out
      if (lineIndent > indent) fail('unexpected indentation')
      const content = line.slice(indent)
      if (content.startsWith('- ')) fail('a sequence where a mapping key was expected')
      const match = /^([A-Za-z0-9_./-]+):(?: (.*))?$/.exec(content)
      if (!match) fail('expected "key: value"')
      const key = match![1]!
      if (key in out) fail(`duplicate key ${key}`)
      const rest = stripComment(match![2] ?? '')
      i++
      if (rest === '|' || rest === '>') out[key] = blockScalar(indent, rest === '>')
      else if (rest !== '') out[key] = scalar(rest)
      else {
        skip()
        if (i >= lines.length || indentOf(lines[i]!) <= indent) fail(`key ${key} has no value`)
        out[key] = block()
      }
    }
  }
  const sequence = (indent: number): Yaml[] => {
    const out: Yaml[] = []
    for (;;) {
      skip()
      if (i >= lines.length) return out
      const line = lines[i]!
      const lineIndent = indentOf(line)
      if (lineIndent < indent) return out
      if (lineIndent > indent) fail('unexpected indentation')
      const content = line.slice(indent)
      if (!content.startsWith('- ')) return out
      const item = content.slice(2)
      if (/^[A-Za-z0-9_./-]+:(?: |$)/.test(item)) {
        // "- key: value" opens a mapping whose keys sit two columns in.
        lines[i] = `${' '.repeat(indent + 2)}${item}`
        out.push(mapping(indent + 2))
      } else {
        i++
        out.push(scalar(item))
      }
    }
  }
  const document = block()
  skip()
  if (i < lines.length) fail('unexpected content')
  return document
}

const asMap = (value: Yaml | undefined, what: string): { [key: string]: Yaml } => {
  if (value === undefined || typeof value === 'string' || Array.isArray(value))
    throw new Error(`${what} is not a mapping`)
  return value
}
const asList = (value: Yaml | undefined, what: string): Yaml[] => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`)
  return value
}
const asString = (value: Yaml | undefined, what: string): string => {
  if (typeof value !== 'string') throw new Error(`${what} is not a scalar`)
  return value
}

// --- PromQL: the metric names, labels and label values an expression uses ---------------------

function promqlProblems(expr: string, metrics: ReadonlyMap<string, MetricInfo>, legend = ''): string[] {
  const problems: string[] = []
  const used = new Map<string, { metric: MetricInfo; bucket: boolean }>()
  const resolve = (name: string) => {
    const direct = metrics.get(name)
    if (direct) return { metric: direct, bucket: false }
    const series = /^(.*)_(bucket|sum|count)$/.exec(name)
    const base = series ? metrics.get(series[1]!) : undefined
    if (series && base && (base.type === 'histogram' || base.type === 'summary'))
      return { metric: base, bucket: series[2] === 'bucket' }
    problems.push(`unknown metric ${name}`)
    return null
  }
  for (const [name] of expr.matchAll(/\bkafka_sidecar_[a-z0-9_]+\b/g)) {
    const found = resolve(name)
    if (found) used.set(name, found)
  }
  if (used.size === 0 && problems.length === 0) problems.push(`no kafka_sidecar metric in ${JSON.stringify(expr)}`)
  const labelsOf = (name: string) => {
    const found = used.get(name)
    return found ? [...found.metric.labels, ...(found.bucket ? ['le'] : [])] : []
  }
  const allLabels = new Set([...used.keys()].flatMap(labelsOf))

  for (const [, name, matchers] of expr.matchAll(/\b(kafka_sidecar_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
    if (!used.has(name!)) continue
    for (const [, label, , value] of matchers!.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      if (!labelsOf(name!).includes(label!)) {
        problems.push(`${name} has no label ${label}`)
        continue
      }
      if (value!.includes('$')) continue
      for (const alternative of value!.split('|')) {
        if (label === 'stage') {
          // The stages the code emits are the ones the metric's help text names.
          const stages = [...used.get(name!)!.metric.help.matchAll(/(\w+) \(/g)].map((m) => m[1])
          if (!stages.includes(alternative))
            problems.push(`${name}: stage "${alternative}" is not one of ${stages.join(', ')}`)
        }
        if (label === 'code' && typeof (status as unknown as Record<string, unknown>)[alternative] !== 'number')
          problems.push(`${name}: code "${alternative}" is not a gRPC status name`)
      }
    }
  }
  const groupings = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(','))
  const legendLabels = [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!)
  for (const label of [...groupings, ...legendLabels].map((l) => l.trim()).filter(Boolean)) {
    if (!allLabels.has(label) && !TARGET_LABELS.has(label))
      problems.push(`label ${label} is on none of ${[...used.keys()].join(', ')}`)
  }
  for (const [, name, label] of expr.matchAll(/label_values\(\s*(kafka_sidecar_[a-z0-9_]+)\s*,\s*(\w+)\s*\)/g)) {
    if (used.has(name!) && !labelsOf(name!).includes(label!)) problems.push(`${name} has no label ${label}`)
  }
  return problems
}

// --- the files --------------------------------------------------------------------------------

interface Container {
  readonly name: string
  readonly spec: { [key: string]: Yaml }
  readonly env: Map<string, string | null>
}

function containers(pod: { [key: string]: Yaml }, field: 'initContainers' | 'containers'): Container[] {
  return asList(asMap(pod.spec, 'spec')[field], field).map((c) => {
    const spec = asMap(c, field)
    const env = new Map<string, string | null>()
    for (const e of spec.env === undefined ? [] : asList(spec.env, 'env')) {
      const entry = asMap(e, 'env entry')
      const name = asString(entry.name, 'env name')
      if (env.has(name)) throw new Error(`${name} set twice`)
      env.set(name, entry.value === undefined ? null : asString(entry.value, name))
    }
    return { name: asString(spec.name, 'container name'), spec, env }
  })
}

function dockerfileEnv(text: string): Map<string, string> {
  const env = new Map<string, string>()
  for (const [, body] of text.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const [, name, value] of body!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g))
      env.set(name!, value!.replace(/^"|"$/g, ''))
  }
  return env
}

function grafanaTargets(
  node: unknown,
  out: Array<{ expr: string; legend: string; where: string }> = [],
  where = 'dashboard',
): Array<{ expr: string; legend: string; where: string }> {
  if (Array.isArray(node)) node.forEach((n) => grafanaTargets(n, out, where))
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>
    const here = typeof o.title === 'string' ? o.title : typeof o.name === 'string' ? `variable ${o.name}` : where
    if (typeof o.expr === 'string')
      out.push({ expr: o.expr, legend: typeof o.legendFormat === 'string' ? o.legendFormat : '', where: here })
    if (typeof o.definition === 'string' && o.definition.includes('kafka_sidecar_'))
      out.push({ expr: o.definition, legend: '', where: here })
    for (const value of Object.values(o)) grafanaTargets(value, out, here)
  }
  return out
}

const dockerfile = read('deploy/docker/Dockerfile')
const readPod = () => asMap(parseYaml(read('deploy/kubernetes/pod.yaml')), 'pod.yaml')

describe('deploy/kubernetes/pod.yaml', () => {
  // Read in beforeAll, so a file that does not parse fails every test here with the reason.
  let pod: { [key: string]: Yaml }
  let sidecar: Container | undefined
  let otherInit: Container[]
  let apps: Container[]
  let sidecarEnv: Record<string, string>
  beforeAll(() => {
    pod = readPod()
    const [first, ...rest] = containers(pod, 'initContainers')
    sidecar = first
    otherInit = rest
    apps = containers(pod, 'containers')
    // A value from a Secret (valueFrom) stands in as a valid token.
    sidecarEnv = Object.fromEntries([...(sidecar?.env ?? [])].map(([k, v]) => [k, v ?? 'from-a-secret-0123456789']))
  })
  const sidecarConfig = () => resolveConfig([optionsFromEnv(sidecarEnv)])

  it('runs the sidecar as a native sidecar container (restartable init container)', () => {
    expect(otherInit).toEqual([])
    expect(sidecar?.name).toBe('kafka-sidecar')
    expect(sidecar?.spec.restartPolicy).toBe('Always')
    expect(apps.length).toBeGreaterThan(0)
  })

  it('names only environment variables the sidecar or the client reads', () => {
    for (const c of [sidecar!, ...apps]) {
      for (const name of c.env.keys())
        expect(SIDECAR_ENV.has(name) || CLIENT_ENV_NAMES.has(name), `${c.name}: ${name}`).toBe(true)
    }
    for (const name of sidecar!.env.keys())
      expect(SIDECAR_ENV.has(name), `sidecar container: ${name} is not a sidecar option`).toBe(true)
    for (const app of apps)
      for (const name of app.env.keys())
        expect(CLIENT_ENV_NAMES.has(name), `${app.name}: ${name} is not a client variable`).toBe(true)
  })

  it('gives the sidecar values its own validation accepts: a Unix socket, HTTP on all interfaces with the non-loopback flag', () => {
    expect(sidecarConfig).not.toThrow()
    const config = sidecarConfig()
    expect(config.listen.kind).toBe('unix')
    expect(config.http?.kind).toBe('tcp')
    if (config.http?.kind === 'tcp') expect(isLoopback(config.http.host)).toBe(false)
    expect(config.allowNonLoopback).toBe(true)
    // Without the flag the same HTTP address is refused: the flag is needed, not decoration.
    const { KAFKA_SIDECAR_ALLOW_NON_LOOPBACK: _flag, ...withoutFlag } = sidecarEnv
    expect(() => resolveConfig([optionsFromEnv(withoutFlag)])).toThrow(/not a loopback address/)
  })

  it('points every app container at the sidecar socket in sidecar mode, on a volume both mount', () => {
    const config = sidecarConfig()
    if (config.listen.kind !== 'unix') throw new Error('not a unix socket')
    const socketDir = dirname(config.listen.path)
    const mountOf = (c: Container) =>
      asList(c.spec.volumeMounts, `${c.name} volumeMounts`)
        .map((m) => asMap(m, 'volumeMount'))
        .find((m) => m.mountPath === socketDir)
    const volume = mountOf(sidecar!)?.name
    expect(volume, `sidecar mounts ${socketDir}`).toBeDefined()
    const podVolume = asList(asMap(pod.spec, 'spec').volumes, 'volumes')
      .map((v) => asMap(v, 'volume'))
      .find((v) => v.name === volume)
    expect(podVolume?.emptyDir, 'the socket volume is an emptyDir').toBeDefined()
    for (const app of apps) {
      const options = resolveSidecarOptions([], Object.fromEntries([...app.env].map(([k, v]) => [k, v ?? ''])))
      expect(options.mode).toBe('sidecar')
      expect(options.address).toBe(`unix://${config.listen.path}`)
      expect(mountOf(app)?.name).toBe(volume)
    }
    // The socket is mode 0660: a shared group lets an app with another uid connect.
    expect(asMap(asMap(pod.spec, 'spec').securityContext, 'securityContext').fsGroup).toBeDefined()
  })

  it('probes /readyz and /healthz on the port KAFKA_SIDECAR_HTTP listens on', () => {
    const config = sidecarConfig()
    if (config.http?.kind !== 'tcp') throw new Error('HTTP is off')
    const ports = asList(sidecar!.spec.ports, 'ports').map((p) => asMap(p, 'port'))
    const probe = (field: string) => {
      const get = asMap(asMap(sidecar!.spec[field], field).httpGet, `${field}.httpGet`)
      const port = asString(get.port, 'port')
      const number = /^\d+$/.test(port) ? Number(port) : Number(ports.find((p) => p.name === port)?.containerPort)
      return { path: get.path, port: number }
    }
    expect(probe('readinessProbe')).toEqual({ path: '/readyz', port: config.http.port })
    expect(probe('livenessProbe')).toEqual({ path: '/healthz', port: config.http.port })
    expect(probe('startupProbe')).toEqual({ path: '/healthz', port: config.http.port })
  })

  it('gives the pod more termination grace than the sidecar needs to shut down', () => {
    const grace =
      Number(asString(asMap(pod.spec, 'spec').terminationGracePeriodSeconds, 'terminationGracePeriodSeconds')) * 1000
    expect(grace).toBeGreaterThan(sidecarConfig().shutdownTimeoutMs + SHUTDOWN_TAIL_MS)
  })

  it('sets sidecar memory request and limit, the limit above the queue bound and the consumer buffer bound together', () => {
    const resources = asMap(sidecar!.spec.resources, 'resources')
    const mebibytes = (v: Yaml | undefined) => Number(/^(\d+)Mi$/.exec(asString(v, 'memory'))?.[1])
    const request = mebibytes(asMap(resources.requests, 'requests').memory)
    const limit = mebibytes(asMap(resources.limits, 'limits').memory)
    expect(request).toBeGreaterThanOrEqual(128)
    const { maxQueuedBytes, consumerBufferBytes } = sidecarConfig()
    expect(limit).toBeGreaterThan((maxQueuedBytes + consumerBufferBytes) / 1024 / 1024)
    expect(limit).toBeGreaterThanOrEqual(request)
  })
})

describe('deploy/docker/Dockerfile', () => {
  it('builds with pnpm through npx on node:20-slim and runs the sidecar CLI as a non-root user', () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1])
    expect(froms.length).toBeGreaterThan(0)
    for (const image of froms) expect(image).toBe('node:20-slim')
    expect(dockerfile).toMatch(/npx --yes pnpm@10 install --frozen-lockfile/)
    const bin = (JSON.parse(read('packages/sidecar/package.json')) as { bin: Record<string, string> }).bin[
      'kafka-sidecar'
    ]
    expect(bin).toBe('./dist/cli.js')
    const cmd = /^CMD \["node", ((?:"--[a-z-]+=\d+", )*)"packages\/sidecar\/dist\/cli\.js"\]$/m.exec(dockerfile)
    expect(cmd, 'CMD runs node with V8 flags on the sidecar CLI').not.toBeNull()
    const flags = [...cmd![1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!)
    expect(flags).toEqual(['--max-old-space-size=256', '--max-semi-space-size=4'])
    // The benchmarks run the sidecar as the image does.
    expect(read('examples/compare-modes/src/processes.ts')).toContain(
      `export const SIDECAR_NODE_ARGS = '${flags.join(' ')}'`,
    )
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!)
    expect(users.length).toBeGreaterThan(0)
    expect(users.at(-1)).not.toMatch(/^(0|root)(:|$)/)
  })

  it('sets only sidecar options, with values the sidecar accepts', () => {
    const env = dockerfileEnv(dockerfile)
    for (const name of env.keys()) expect(SIDECAR_ENV.has(name), name).toBe(true)
    expect(() =>
      resolveConfig([optionsFromEnv({ KAFKA_BROKERS: 'kafka:9092', ...Object.fromEntries(env) })]),
    ).not.toThrow()
    expect(env.get('KAFKA_SIDECAR_LISTEN')).toBe(
      containers(readPod(), 'initContainers')[0]!.env.get('KAFKA_SIDECAR_LISTEN'),
    )
  })
})

describe('deploy/prometheus/alerts.yaml and deploy/grafana/kafka-sidecar-dashboard.json', () => {
  let rules: Array<{ [key: string]: Yaml }>
  beforeAll(() => {
    rules = asList(asMap(parseYaml(read('deploy/prometheus/alerts.yaml')), 'alerts.yaml').groups, 'groups').flatMap(
      (g) => asList(asMap(g, 'group').rules, 'rules').map((r) => asMap(r, 'rule')),
    )
  })

  it('has the alerts the rollout guide relies on, each with a duration and a severity', () => {
    const names = rules.map((r) => asString(r.alert, 'alert'))
    for (const expected of [
      'KafkaSidecarClientFallbackSustained',
      'KafkaSidecarClientBreakerOpen',
      'KafkaSidecarClientDeliverySuccessLow',
      'KafkaSidecarNotReady',
      'KafkaSidecarQueueBytesHigh',
    ]) {
      expect(names).toContain(expected)
    }
    for (const rule of rules) {
      expect(asString(rule.for, `${String(rule.alert)} for`)).toMatch(/^\d+[smh]$/)
      expect(asMap(rule.labels, 'labels').severity).toMatch(/^(warning|critical)$/)
    }
    const fallback = rules.find((r) => r.alert === 'KafkaSidecarClientFallbackSustained')!
    expect(fallback.for).toBe('5m')
  })

  it('queries only metrics and labels the code registers', async () => {
    const metrics = await registeredMetrics()
    for (const rule of rules)
      expect(promqlProblems(asString(rule.expr, 'expr'), metrics), String(rule.alert)).toEqual([])
  })

  it('uses the default queue bound of the code in the queue alert', () => {
    const expr = asString(rules.find((r) => r.alert === 'KafkaSidecarQueueBytesHigh')!.expr, 'expr')
    expect(expr).toContain(String(OPTIONS.find((o) => o.key === 'maxQueuedBytes')!.defaultValue))
  })

  it('the dashboard is valid JSON whose every query uses registered metrics and labels', async () => {
    const metrics = await registeredMetrics()
    const dashboard = JSON.parse(read('deploy/grafana/kafka-sidecar-dashboard.json')) as {
      panels: Array<{ id: number; title: string; type: string }>
      uid: string
    }
    expect(dashboard.uid).toBe('kafka-sidecar')
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const targets = grafanaTargets(dashboard)
    expect(targets.length).toBeGreaterThan(20)
    for (const t of targets) expect(promqlProblems(t.expr, metrics, t.legend), `${t.where}: ${t.expr}`).toEqual([])
    // Every metric the code registers (process metrics aside) appears on the dashboard.
    const queried = targets.map((t) => t.expr).join('\n')
    for (const name of metrics.keys())
      if (!name.startsWith('kafka_sidecar_process_')) expect(queried, name).toContain(name)
  })
})

describe('docs against the code', () => {
  it('docs/metrics.md has a row for every metric', async () => {
    const doc = read('docs/metrics.md')
    for (const name of (await registeredMetrics()).keys()) {
      if (name.startsWith('kafka_sidecar_process_')) continue
      expect(doc, name).toContain(`| \`${name}\` |`)
    }
    expect(doc).toContain('kafka_sidecar_process_')
  })

  it('docs/configuration.md has a row for every sidecar and client option, with the sidecar defaults', () => {
    const doc = read('docs/configuration.md')
    for (const o of OPTIONS) {
      const plain =
        typeof o.defaultValue === 'number' || typeof o.defaultValue === 'boolean' || typeof o.defaultValue === 'string'
      const row = `| \`${o.key}\` | \`${o.env}\` | \`--${o.flag}\` |${plain ? ` \`${String(o.defaultValue)}\` |` : ''}`
      expect(doc, o.env).toContain(row)
    }
    for (const [key, env] of Object.entries(CLIENT_ENV)) expect(doc, env).toContain(`| \`${key}\` | \`${env}\` |`)
  })
})

describe('the checks themselves', () => {
  it('reject unknown metrics, labels and values', async () => {
    const metrics = await registeredMetrics()
    expect(promqlProblems('rate(kafka_sidecar_records_total[5m])', metrics)).toEqual([])
    expect(promqlProblems('rate(kafka_sidecar_record_total[5m])', metrics)).toEqual([
      'unknown metric kafka_sidecar_record_total',
    ])
    expect(promqlProblems('kafka_sidecar_queue_bytes_bucket', metrics)).toEqual([
      'unknown metric kafka_sidecar_queue_bytes_bucket',
    ])
    expect(promqlProblems('sum by (client_id) (rate(kafka_sidecar_records_total[5m]))', metrics)).toHaveLength(1)
    expect(promqlProblems('kafka_sidecar_client_records_acked_total{app="x"}', metrics)).toEqual([
      'kafka_sidecar_client_records_acked_total has no label app',
    ])
    expect(promqlProblems('kafka_sidecar_records_total{stage="delivered"}', metrics)).toHaveLength(1)
    expect(promqlProblems('kafka_sidecar_errors_total{code="FULL"}', metrics)).toHaveLength(1)
    expect(
      promqlProblems(
        'histogram_quantile(0.99, sum by (le, app) (rate(kafka_sidecar_delivery_latency_seconds_bucket[5m])))',
        metrics,
      ),
    ).toEqual([])
    expect(promqlProblems('up == 0', metrics)).toHaveLength(1)
    expect(promqlProblems('kafka_sidecar_queue_bytes', metrics, '{{topic}}')).toEqual([
      'label topic is on none of kafka_sidecar_queue_bytes',
    ])
  })

  it('parse the YAML subset and refuse what is outside it', () => {
    expect(parseYaml('a:\n  b: "1"\n  c:\n    - d: e\n      f: [ "g" ]\n    - h\n  i: |\n    x\n      y\n')).toEqual({
      a: { b: '1', c: [{ d: 'e', f: ['g'] }, 'h'], i: 'x\n  y\n' },
    })
    expect(() => parseYaml('a:\n\tb: 1\n')).toThrow(/tab/)
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow(/duplicate/)
    expect(() => parseYaml('a:\n  b: 1\n c: 2\n')).toThrow()
    expect(() => parseYaml('a: &x 1\n')).toThrow(/unsupported/)
  })
})

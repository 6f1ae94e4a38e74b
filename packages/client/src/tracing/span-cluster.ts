/**
 * `messaging.kafka.cluster.id` on the spans of a producer the instrumentation wraps in sidecar
 * mode (see kafkajs-instrumentation.ts), with the value and the timing KafkaJS's own producer
 * gives them.
 *
 * OpenTelemetry's kafkajs instrumentation reads the attribute per send from the KafkaJS Cluster
 * a producer was made with: it wraps KafkaJS's producer factory (`kafkajs/src/producer/index.js`),
 * keeps `producer -> params.cluster` in a WeakMap, and reads `cluster.brokerPool.metadata.clusterId`.
 * KafkaJS fills that metadata when the producer first asks the brokers for it: during its first
 * send (once past KafkaJS's argument checks, unless the topic's metadata fails: invalid, unknown
 * or unauthorized topic), at connect for an idempotent producer, at transaction() for a
 * transactional one; and clears it at disconnect. So KafkaJS's first send has no cluster id, the
 * sends after it have.
 *
 * A producer sending through the sidecar has no Cluster. This module gives the instrumentation a
 * stand-in, through the same door: the factory the instrumentation wrapped, called once for our
 * producer, whose call of KafkaJS's factory is answered with our producer (the way
 * offerToInstrumentation answers the wrapped `Kafka.prototype.producer`). The stand-in's metadata:
 * - the cluster id the sidecar reported (ClusterInfo), while sends go to the sidecar, once the
 *   producer "has loaded metadata" by KafkaJS's rules above. KafkaJS learns the id when its
 *   metadata request returns, before the first send is written; here, when the first send
 *   settles. Sends started in between (concurrent with a producer's very first send) have the
 *   id in KafkaJS and not here; an exact match would need the brokers' answer in this process.
 * - otherwise (the sidecar refused for its cluster, or it could not tell) the cluster id the
 *   fallback KafkaJS producer learned itself, exactly as KafkaJS has it.
 */
import Module, { createRequire } from 'node:module'
import { KafkaErrors } from '@kafka-sidecar/proto'
import kafkajs from 'kafkajs'
import { learnedClusterId, type KafkaJSClusterView } from '../transport/kafkajs-cluster.js'
import { redirectCalls } from './redirect-calls.js'

/** Errors of KafkaJS's metadata request for a send's topics: after them it has loaded nothing. */
const TOPIC_METADATA_ERRORS = new Set<string>([
  KafkaErrors.INVALID_TOPIC_EXCEPTION.name,
  KafkaErrors.UNKNOWN_TOPIC_OR_PARTITION.name,
  KafkaErrors.TOPIC_AUTHORIZATION_FAILED.name,
])

export class SpanCluster {
  /** What the instrumentation reads, shaped as KafkaJS's Cluster as far as it reads it. */
  readonly cluster: KafkaJSClusterView
  private metadataLoaded = false

  constructor(
    /** The sidecar's cluster id while sends go to the sidecar, else null. */
    sidecarClusterId: () => string | null,
    /** The fallback KafkaJS producer's own cluster. */
    directCluster: KafkaJSClusterView | null,
  ) {
    const loaded = () => this.metadataLoaded
    const brokerPool = {
      get metadata(): { clusterId: string } | null {
        const clusterId = (loaded() ? sidecarClusterId() : null) ?? learnedClusterId(directCluster)
        return clusterId ? { clusterId } : null
      },
    }
    this.cluster = { brokerPool }
  }

  /** KafkaJS's idempotent producer loads metadata in connect() (to get its producer id). */
  connected(idempotent: boolean): void {
    this.metadataLoaded = idempotent
  }

  /** KafkaJS's disconnect clears the metadata. */
  disconnected(): void {
    this.metadataLoaded = false
  }

  /** A transaction begins by getting a producer id, which loads metadata. */
  transactionBegan(): void {
    this.metadataLoaded = true
  }

  /** A send past the client's own checks settled (`error` null when it succeeded). */
  sendSettled(error: unknown): void {
    if (!failedOnTopicMetadata(error)) this.metadataLoaded = true
  }
}

/** The error or one it wraps (KafkaJSNumberOfRetriesExceeded.originalError, cause) is a topic metadata error. */
function failedOnTopicMetadata(error: unknown): boolean {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 4; depth++) {
    const { type, originalError, cause } = current as { type?: unknown; originalError?: unknown; cause?: unknown }
    if (typeof type === 'string' && TOPIC_METADATA_ERRORS.has(type)) return true
    current = originalError ?? cause
  }
  return false
}

// --- the instrumentation's door ----------------------------------------------------------------

type AnyFunction = (...args: never[]) => unknown

/** `this` of the one call that asks the instrumentation's factory wrapper to record a cluster. */
const OFFER = Object.freeze({ offer: 'kafka-sidecar client cluster' })
const INSTALLED = Symbol('kafka-sidecar.cluster-offer')
let offered: object | null = null

/** Which of KafkaJS's factories made the client: the instrumentation records the cluster of both. */
export type ClientFactory = 'producer' | 'consumer'

const FACTORY_FILES: Record<ClientFactory, string> = {
  producer: './src/producer/index.js',
  consumer: './src/consumer/index.js',
}

/** Found once per process and factory: a producer per job must not scan the module cache each time. */
const found = new Map<ClientFactory, { wrapped: AnyFunction; original: AnyFunction } | null>()

/**
 * Has the application's kafkajs instrumentation record `cluster` as the KafkaJS cluster of
 * `client` (a producer, or a consumer with `factory` 'consumer'). Returns whether it did; false
 * when no instrumentation wraps that KafkaJS factory (then nothing changes).
 */
export function offerClusterToInstrumentation(
  client: object,
  cluster: KafkaJSClusterView,
  factory: ClientFactory = 'producer',
): boolean {
  const factories = factoriesOf(factory)
  if (!factories) return false
  answerOffers(factories.original)
  offered = client
  try {
    return (Reflect.apply(factories.wrapped, OFFER, [{ cluster }]) as unknown) === client
  } catch {
    // A wrapper that does more than record the cluster ran KafkaJS's factory on our marker.
    return false
  } finally {
    offered = null
  }
}

/**
 * KafkaJS's factory as the instrumentation wrapped it (what `require` gives: the hook returns its
 * wrapper) and as KafkaJS defined it (what the module cache holds). Found from the kafkajs module
 * this package uses, so it is the same KafkaJS; null when they are the same function (no
 * instrumentation wraps it) or kafkajs is not where CommonJS keeps it.
 */
function factoriesOf(factory: ClientFactory): { wrapped: AnyFunction; original: AnyFunction } | null {
  if (!found.has(factory)) found.set(factory, findFactories(FACTORY_FILES[factory]))
  return found.get(factory)!
}

function findFactories(file: string): { wrapped: AnyFunction; original: AnyFunction } | null {
  const cache = (Module as unknown as { _cache?: Record<string, { exports?: unknown } | undefined> })._cache
  const main = cache && Object.keys(cache).find((path) => cache[path]?.exports === kafkajs)
  if (!cache || !main) return null
  try {
    const requireFromKafkajs = createRequire(main)
    const wrapped = requireFromKafkajs(file) as unknown
    const original = cache[requireFromKafkajs.resolve(file)]?.exports
    if (typeof wrapped !== 'function' || typeof original !== 'function' || wrapped === original) return null
    return { wrapped: wrapped as AnyFunction, original: original as AnyFunction }
  } catch {
    return null
  }
}

/** The wrapper calls KafkaJS's factory with `.call(this, params)`: for our marker, that answers our client. */
function answerOffers(factory: AnyFunction): void {
  redirectCalls(factory, INSTALLED, (thisArg, args) =>
    thisArg === OFFER && offered ? offered : Reflect.apply(factory, thisArg, args ?? []),
  )
}

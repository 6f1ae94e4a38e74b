/**
 * The plain (non-idempotent) producer's sendBatch with the sidecar's own Produce request encoder
 * (produce-request-encoder.ts), on KafkaJS's connections.
 *
 * Everything but the encoding and the reading of answers stays KafkaJS 2.2.4's: the shared
 * cluster's metadata and leaders, its broker connections (TLS, SASL, request queue, correlation
 * ids), the Produce version it negotiated with each broker and that version's response decoder,
 * and the retry loop follows KafkaJS's sendMessages: target topics added, metadata refreshed when
 * stale, the same errors retried (stale metadata, connection errors, retriable protocol errors)
 * with the producer's retry settings, a lost cluster reconnected. What changes:
 * - the request is measured and written in one pass, and messages are grouped by partition in
 *   one pass (KafkaJS copies a partition's array for every message it adds);
 * - a response is judged partition by partition (produce-outcomes.ts), and a retry sends only the
 *   partitions refused with a retriable error: KafkaJS resends the broker's whole request, writing
 *   the partitions it took twice. Partitions are therefore chosen once per sendBatch (KafkaJS
 *   chooses again at each attempt; the dispatcher names every message's partition anyway).
 *
 * A broker that only speaks Produce below v3 (Kafka before 0.11, no RecordBatch v2) gets
 * KafkaJS's own request.
 */
import { createRequire } from 'node:module'
import type { Logger, Message, PartitionMetadata, Producer, RecordMetadata, RetryOptions, TopicMessages } from 'kafkajs'
import type { BatchSender } from '../pipeline/dispatcher.js'
import type { DecodedProduceResponse, ProduceAnswers } from './produce-answers.js'
import { ProduceOutcomes } from './produce-outcomes.js'
import { ProduceProtocols, type ProduceArgs, type ProduceBuilder } from './produce-protocols.js'
import { encodeProduceRequest, PRODUCE_VERSIONS } from './produce-request-encoder.js'

const require = createRequire(import.meta.url)

type Retrier = <T>(
  fn: (bail: (error: unknown) => void, retryCount: number, retryTime: number) => Promise<T>,
) => Promise<T>
const createRetry = require('kafkajs/src/retry/index.js') as (options?: RetryOptions) => Retrier
const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: { Produce: unknown } }
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number }
const { staleMetadata } = require('kafkajs/src/protocol/error.js') as { staleMetadata(error: unknown): boolean }
const { KafkaJSError, KafkaJSNonRetriableError, KafkaJSMetadataNotLoaded } = require('kafkajs/src/errors.js') as {
  KafkaJSError: new (message: string) => Error
  KafkaJSNonRetriableError: new (message: string) => Error
  KafkaJSMetadataNotLoaded: new (message: string) => Error
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => {
  buf: Buffer
  offset: number
}
const Broker = require('kafkajs/src/broker/index.js') as { prototype: object }
const { DefaultPartitioner } = require('kafkajs/src/producer/partitioners/index.js') as {
  DefaultPartitioner: () => (args: {
    topic: string
    partitionMetadata: PartitionMetadata[]
    message: Message
  }) => number
}

const SEND_REQUEST = Object.getOwnPropertySymbols(Broker.prototype).find(
  (s) => s.description === 'private:Broker:sendRequest',
)

/** The parts of a KafkaJS 2.2.4 Broker and Cluster this sender uses. */
export interface KafkaJSBroker {
  readonly nodeId: number
  lookupRequest(apiKey: number, definition: unknown): ProduceBuilder
}
export interface KafkaJSCluster {
  addMultipleTargetTopics(topics: string[]): Promise<void>
  refreshMetadataIfNecessary(): Promise<void>
  refreshMetadata(): Promise<void>
  findTopicPartitionMetadata(topic: string): PartitionMetadata[]
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>
  findBroker(query: { nodeId: string }): Promise<KafkaJSBroker>
  removeBroker(address: { host: string; port: number }): void
  isConnected(): boolean
  connect(): Promise<void>
  readonly targetTopics: Set<string>
}

/** A KafkaJS Encoder holding `buffer`, as KafkaJS's connection takes a request body. */
function asKafkaJSEncoder(buffer: Buffer): unknown {
  const encoder = new Encoder(0)
  encoder.buf = buffer
  encoder.offset = buffer.length
  return encoder
}

/** KafkaJS's producer connection states, followed through the producer's events. */
type ProducerStatus = 'connected' | 'disconnected'

export class DirectBatchSender implements BatchSender {
  private readonly retrier: Retrier
  private readonly partitioner = DefaultPartitioner()
  private readonly protocols = new ProduceProtocols()
  private status: ProducerStatus = 'disconnected'

  constructor(
    private readonly cluster: KafkaJSCluster,
    /** The producer's: sendBatch is refused while it is not connected, as KafkaJS refuses it. */
    producer: Producer,
    retry: RetryOptions,
    private readonly logger: Logger,
  ) {
    if (!SEND_REQUEST)
      throw new Error(
        'kafkajs internals changed: Broker has no "private:Broker:sendRequest" (this sidecar needs kafkajs 2.2.4)',
      )
    this.retrier = createRetry(retry)
    producer.on(producer.events.CONNECT, () => (this.status = 'connected'))
    producer.on(producer.events.DISCONNECT, () => (this.status = 'disconnected'))
  }

  async sendBatch(
    {
      topicMessages,
      acks = -1,
      timeout,
      compression = 0,
    }: {
      topicMessages: TopicMessages[]
      acks?: number
      timeout?: number
      compression?: number
    },
    answers?: ProduceAnswers,
  ): Promise<RecordMetadata[]> {
    checkMessages(topicMessages)
    if (this.status !== 'connected') throw new KafkaJSError('The producer is disconnected')
    const merged = mergeTopics(topicMessages)
    const produce = { acks, timeout: timeout ?? 30_000, compression }
    const partitioned = new Map<string, Map<number, Message[]>>()
    const outcomes = new ProduceOutcomes<KafkaJSBroker>()
    return this.retrier(async (bail, retryCount, retryTime) => {
      await this.cluster.addMultipleTargetTopics(merged.map(({ topic }) => topic))
      try {
        outcomes.startAttempt()
        await Promise.all(await this.produceRequests(merged, produce, partitioned, outcomes, answers, retryCount))
        // Thrown as KafkaJS's parser throws it, so the same retry and metadata decisions follow.
        const refusal = outcomes.refusal()
        if (refusal) throw refusal
        return outcomes.metadata()
      } catch (error) {
        await this.onFailure(error as KafkaJSFailure, bail, retryCount, retryTime)
        return []
      }
    })
  }

  /** As KafkaJS's sendMessages: which failures refresh metadata, reconnect, retry or end the send. */
  private async onFailure(
    e: KafkaJSFailure,
    bail: (error: unknown) => void,
    retryCount: number,
    retryTime: number,
  ): Promise<void> {
    if (e.name === 'KafkaJSConnectionClosedError') this.cluster.removeBroker({ host: e.host!, port: e.port! })
    if (!this.cluster.isConnected()) {
      this.logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`, { retryCount, retryTime })
      await this.cluster.connect()
      await this.cluster.refreshMetadata()
      throw e
    }
    if (
      staleMetadata(e) ||
      e.name === 'KafkaJSMetadataNotLoaded' ||
      e.name === 'KafkaJSConnectionError' ||
      e.name === 'KafkaJSConnectionClosedError' ||
      (e.name === 'KafkaJSProtocolError' && e.retriable)
    ) {
      this.logger.error(`Failed to send messages: ${e.message}`, { retryCount, retryTime })
      await this.cluster.refreshMetadata()
      throw e
    }
    this.logger.error(`${e.message}`, { retryCount, retryTime })
    if (e.retriable) throw e
    bail(e)
  }

  /** One produce call per leader of the partitions neither written nor refused for good yet. */
  private async produceRequests(
    topicMessages: readonly TopicMessages[],
    produce: { acks: number; timeout: number; compression: number },
    partitioned: Map<string, Map<number, Message[]>>,
    outcomes: ProduceOutcomes<KafkaJSBroker>,
    answers: ProduceAnswers | undefined,
    attempt: number,
  ): Promise<Array<Promise<void>>> {
    const { cluster } = this
    await cluster.refreshMetadataIfNecessary()
    const byTopic: Array<{ topic: string; perLeader: Record<string, number[]>; perPartition: Map<number, Message[]> }> =
      []
    const brokers = new Set<KafkaJSBroker>()
    for (const { topic, messages } of topicMessages) {
      const partitionMetadata = cluster.findTopicPartitionMetadata(topic)
      if (partitionMetadata.length === 0) {
        this.logger.debug('Producing to topic without metadata', { topic, targetTopics: [...cluster.targetTopics] })
        throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata')
      }
      let perPartition = partitioned.get(topic)
      if (!perPartition)
        partitioned.set(topic, (perPartition = this.groupByPartition(topic, partitionMetadata, messages)))
      const unsettled = [...perPartition.keys()].filter((partition) => !outcomes.isSettled(topic, partition))
      if (unsettled.length === 0) continue
      for (const partition of unsettled) answers?.resend(topic, partition, attempt)
      const perLeader = cluster.findLeaderForPartitions(topic, unsettled)
      byTopic.push({ topic, perLeader, perPartition })
      for (const nodeId of Object.keys(perLeader)) {
        const broker = await cluster.findBroker({ nodeId })
        outcomes.asking(broker)
        brokers.add(broker)
      }
    }
    return [...brokers].map(async (broker) => {
      const topicData = byTopic
        .filter(({ perLeader }) => perLeader[broker.nodeId])
        .map(({ topic, perLeader, perPartition }) => ({
          topic,
          partitions: perLeader[broker.nodeId]!.map((partition) => ({
            partition,
            messages: perPartition.get(partition)!,
          })),
        }))
      const response = await this.produce(broker, { ...produce, topicData })
      if (produce.acks === 0 || !response) return outcomes.sentUnacknowledged(topicData)
      answers?.note(response, attempt)
      outcomes.note(broker, response)
    })
  }

  /** Messages per partition in arrival order, partitions in ascending order (KafkaJS's object key order). */
  private groupByPartition(
    topic: string,
    partitionMetadata: PartitionMetadata[],
    messages: readonly Message[],
  ): Map<number, Message[]> {
    const grouped = new Map<number, Message[]>()
    for (const message of messages) {
      const partition = Number(message.partition ?? this.partitioner({ topic, partitionMetadata, message }))
      const list = grouped.get(partition)
      if (list) list.push(message)
      else grouped.set(partition, [message])
    }
    return new Map([...grouped].sort(([a], [b]) => a - b))
  }

  /** The Produce request with the version KafkaJS negotiated, our body, KafkaJS's response decoder. */
  private async produce(broker: KafkaJSBroker, args: ProduceArgs): Promise<DecodedProduceResponse | undefined> {
    const builder = broker.lookupRequest(apiKeys.Produce, requests.Produce)
    const send = (broker as unknown as Record<symbol, (r: unknown) => Promise<DecodedProduceResponse | undefined>>)[
      SEND_REQUEST!
    ]!
    const { request, decodeOnly } = this.protocols.of(builder, args.acks)
    if (request.apiVersion < PRODUCE_VERSIONS.min || request.apiVersion > PRODUCE_VERSIONS.max)
      return send.call(broker, { request: builder(args).request, response: decodeOnly })
    // Encoded when the connection asks, as KafkaJS's request is: the body is garbage once the
    // connection has framed it. Encoded up front, this request would hold it (a second copy of
    // what the connection keeps until the answer) for the whole round trip.
    return send.call(broker, {
      request: { ...request, encode: async () => asKafkaJSEncoder(await encodeProduceRequest(args)) },
      response: decodeOnly,
    })
  }
}

interface KafkaJSFailure extends Error {
  readonly retriable?: boolean
  readonly host?: string
  readonly port?: number
}

/** What KafkaJS's sendBatch refuses before sending anything. */
function checkMessages(topicMessages: readonly TopicMessages[]): void {
  if (topicMessages.some(({ topic }) => !topic)) throw new KafkaJSNonRetriableError('Invalid topic')
  for (const { topic, messages } of topicMessages) {
    if (!messages)
      throw new KafkaJSNonRetriableError(`Invalid messages array [${String(messages)}] for topic "${topic}"`)
    const withoutValue = messages.find((m) => m.value === undefined)
    if (withoutValue)
      throw new KafkaJSNonRetriableError(
        `Invalid message without value for topic "${topic}": ${JSON.stringify(withoutValue)}`,
      )
  }
}

/** One entry per topic, as KafkaJS merges a sendBatch's topicMessages. */
function mergeTopics(topicMessages: readonly TopicMessages[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>()
  for (const { topic, messages } of topicMessages) {
    const list = byTopic.get(topic)
    byTopic.set(topic, list ? [...list, ...messages] : messages)
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }))
}

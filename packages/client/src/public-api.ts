/**
 * The named exports of @kafka-sidecar/client (index.ts adds the default export).
 *
 * @kafka-sidecar/client: a drop-in for `kafkajs`. Replace
 *   import { Kafka } from 'kafkajs'
 * with
 *   import { Kafka } from '@kafka-sidecar/client'
 * and set KAFKA_SIDECAR_MODE=sidecar to produce through the pod's sidecar (and
 * KAFKA_SIDECAR_CONSUMER_MODE=sidecar to consume through it). Every other KafkaJS
 * export is re-exported unchanged, types included.
 */
export type * from 'kafkajs'
// Named one by one: an explicit export takes precedence over the `export type *` above.
export {
  PartitionAssigners,
  AssignerProtocol,
  Partitioners,
  CompressionCodecs,
  logLevel,
  CompressionTypes,
  ConfigResourceTypes,
  AclResourceTypes,
  AclOperationTypes,
  AclPermissionTypes,
  ResourcePatternTypes,
  ConfigSource,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSAggregateError,
  KafkaJSOffsetOutOfRange,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSConnectionError,
  KafkaJSRequestTimeoutError,
  KafkaJSMetadataNotLoaded,
  KafkaJSTopicMetadataNotLoaded,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSBrokerNotFound,
  KafkaJSPartialMessageError,
  KafkaJSSASLAuthenticationError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNotImplemented,
  KafkaJSTimeout,
  KafkaJSLockTimeout,
  KafkaJSUnsupportedMagicByteInMessageSet,
  KafkaJSDeleteGroupsError,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSConnectionClosedError,
  KafkaJSMemberIdRequired,
  KafkaJSInvariantViolation,
  KafkaJSInvalidVarIntError,
  KafkaJSInvalidLongError,
  KafkaJSCreateTopicError,
  KafkaJSFetcherRebalanceError,
  KafkaJSNoBrokerAvailableError,
} from './kafkajs-exports.js'

export { Kafka, type SidecarConsumerConfig, type SidecarKafkaConfig } from './kafka.js'
export { SidecarConsumer } from './consumer/sidecar-consumer.js'
export type { SidecarConsumerOptions } from './consumer/consumer-mode.js'
export type { DeadLetterConsumer } from './consumer/dead-letter-consumer.js'
export type { DeadLetterBackoffOptions, DeadLetterOptions } from './consumer/dead-letter-options.js'
export { DEAD_LETTER_HEADERS } from './consumer/dead-letter-record.js'
export type { DeadLetterEventPayload } from './consumer/dead-letter-writer.js'
export { SidecarProducer, type SidecarProducerConfig } from './producer/sidecar-producer.js'
export { SIDECAR_EVENTS, type BreakerState, type FallbackEventPayload } from './events.js'
export type { DeliveryListener, DeliveryReport } from './delivery/delivery-report.js'
export type { ClusterMismatchPayload, SidecarClusterState } from './path/cluster-check.js'
export {
  DEFAULT_SIDECAR_ADDRESS,
  ENV as SIDECAR_ENV,
  resolveSidecarOptions,
  type BreakerOptions,
  type ClusterMismatchPolicy,
  type ConsumerMode,
  type ProducerMode,
  type ResolvedSidecarOptions,
  type SidecarClientOptions,
} from './options.js'
export type { MetricsOption } from './metrics.js'

/** Public API of @kafka-sidecar/embedded-kafka. */
export { EmbeddedKafka } from './embedded-kafka.js'
export type { BrokerInfo, EmbeddedRecord, PartitionOffsets } from './embedded-kafka.js'
export { EmbeddedKafkaConfigError, parseOptions } from './options.js'
export type { EmbeddedKafkaOptions } from './options.js'
export type { ConnectionStats } from './server/broker-server.js'
export type { Header } from './protocol/record-batch.js'
export type { Logger, LogLevel } from './server/logger.js'
export { TopicOperationError } from './state/cluster-state.js'

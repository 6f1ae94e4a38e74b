/** Public API of @kafka-sidecar/embedded-kafka. */
export { EmbeddedKafka } from './embedded-kafka.js'
export type { BrokerInfo, EmbeddedBatch, EmbeddedRecord, PartitionOffsets, RecordsOptions } from './embedded-kafka.js'
export { EmbeddedKafkaConfigError, parseOptions } from './options.js'
export type {
  InjectedFault,
  LoseProduceResponsesOptions,
  RefuseGroupOptions,
  RefuseProducePartitionOptions,
  RefuseProducerIdsOptions,
} from './faults/faults.js'
export type { EmbeddedKafkaOptions } from './options.js'
export type { ClientCertificateOptions, IssuedCertificate } from './tls/certificate-authority.js'
export { SaslAuthenticationError } from './sasl/mechanism.js'
export type { CustomSaslMechanism, SaslExchange, SaslStep } from './sasl/mechanism.js'
export type { OAuthBearerValidator } from './sasl/oauthbearer.js'
export type { PasswordMechanism, SaslOAuthBearer, SaslOption, SaslUser } from './sasl/sasl-options.js'
export { unsecuredToken } from './sasl/unsecured-jws.js'
export type { ConnectionStats } from './server/broker-server.js'
export type { Header } from './protocol/record-batch.js'
export type { Logger, LogLevel } from './server/logger.js'
export { TopicOperationError } from './state/cluster-state.js'
export type { TransactionOutcome } from './state/partition-transactions.js'
export type { TransactionInfo } from './transactions/transaction-coordinator.js'
export type { TransactionState } from './transactions/transaction.js'

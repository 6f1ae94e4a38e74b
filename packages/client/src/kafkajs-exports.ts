/**
 * Everything KafkaJS 2.2.4 exports beside `Kafka`, re-exported unchanged: the same objects, so
 * `instanceof KafkaJSError` holds for errors thrown by KafkaJS's consumer and admin too, and codecs
 * registered in `CompressionCodecs` are the ones KafkaJS uses.
 *
 * KafkaJS is CommonJS and builds part of its exports with an object spread, which Node's ESM loader
 * cannot see (`CompressionCodecs` and every error class are missing from `import * as`). So each
 * name is taken from the default export and re-declared here, with its KafkaJS type.
 */
import kafkajs from 'kafkajs'
import type * as K from 'kafkajs'

/** A KafkaJS error class that KafkaJS's typings leave out: same constructor shape as KafkaJSError. */
type UntypedErrorClass = new (...args: any[]) => K.KafkaJSError // eslint-disable-line @typescript-eslint/no-explicit-any

const runtime = kafkajs as unknown as Record<string, unknown>

// Names Node's ESM loader does see are re-exported as they are, which keeps enums usable as
// namespaces in types (`CompressionTypes.GZIP` as a type).
export { AssignerProtocol, CompressionTypes, logLevel, PartitionAssigners, Partitioners } from 'kafkajs'

export const CompressionCodecs: typeof K.CompressionCodecs = runtime.CompressionCodecs as typeof K.CompressionCodecs
export const ConfigResourceTypes: typeof K.ConfigResourceTypes =
  runtime.ConfigResourceTypes as typeof K.ConfigResourceTypes
export type ConfigResourceTypes = K.ConfigResourceTypes
export const AclResourceTypes: typeof K.AclResourceTypes = runtime.AclResourceTypes as typeof K.AclResourceTypes
export type AclResourceTypes = K.AclResourceTypes
export const AclOperationTypes: typeof K.AclOperationTypes = runtime.AclOperationTypes as typeof K.AclOperationTypes
export type AclOperationTypes = K.AclOperationTypes
export const AclPermissionTypes: typeof K.AclPermissionTypes = runtime.AclPermissionTypes as typeof K.AclPermissionTypes
export type AclPermissionTypes = K.AclPermissionTypes
export const ResourcePatternTypes: typeof K.ResourcePatternTypes =
  runtime.ResourcePatternTypes as typeof K.ResourcePatternTypes
export type ResourcePatternTypes = K.ResourcePatternTypes
export const ConfigSource: typeof K.ConfigSource = runtime.ConfigSource as typeof K.ConfigSource
export type ConfigSource = K.ConfigSource
export const KafkaJSError: typeof K.KafkaJSError = runtime.KafkaJSError as typeof K.KafkaJSError
export type KafkaJSError = K.KafkaJSError
export const KafkaJSNonRetriableError: typeof K.KafkaJSNonRetriableError =
  runtime.KafkaJSNonRetriableError as typeof K.KafkaJSNonRetriableError
export type KafkaJSNonRetriableError = K.KafkaJSNonRetriableError
export const KafkaJSProtocolError: typeof K.KafkaJSProtocolError =
  runtime.KafkaJSProtocolError as typeof K.KafkaJSProtocolError
export type KafkaJSProtocolError = K.KafkaJSProtocolError
export const KafkaJSAggregateError: typeof K.KafkaJSAggregateError =
  runtime.KafkaJSAggregateError as typeof K.KafkaJSAggregateError
export type KafkaJSAggregateError = K.KafkaJSAggregateError
export const KafkaJSOffsetOutOfRange: typeof K.KafkaJSOffsetOutOfRange =
  runtime.KafkaJSOffsetOutOfRange as typeof K.KafkaJSOffsetOutOfRange
export type KafkaJSOffsetOutOfRange = K.KafkaJSOffsetOutOfRange
export const KafkaJSAlterPartitionReassignmentsError: typeof K.KafkaJSAlterPartitionReassignmentsError =
  runtime.KafkaJSAlterPartitionReassignmentsError as typeof K.KafkaJSAlterPartitionReassignmentsError
export type KafkaJSAlterPartitionReassignmentsError = K.KafkaJSAlterPartitionReassignmentsError
export const KafkaJSNumberOfRetriesExceeded: typeof K.KafkaJSNumberOfRetriesExceeded =
  runtime.KafkaJSNumberOfRetriesExceeded as typeof K.KafkaJSNumberOfRetriesExceeded
export type KafkaJSNumberOfRetriesExceeded = K.KafkaJSNumberOfRetriesExceeded
export const KafkaJSConnectionError: typeof K.KafkaJSConnectionError =
  runtime.KafkaJSConnectionError as typeof K.KafkaJSConnectionError
export type KafkaJSConnectionError = K.KafkaJSConnectionError
export const KafkaJSRequestTimeoutError: typeof K.KafkaJSRequestTimeoutError =
  runtime.KafkaJSRequestTimeoutError as typeof K.KafkaJSRequestTimeoutError
export type KafkaJSRequestTimeoutError = K.KafkaJSRequestTimeoutError
export const KafkaJSMetadataNotLoaded: typeof K.KafkaJSMetadataNotLoaded =
  runtime.KafkaJSMetadataNotLoaded as typeof K.KafkaJSMetadataNotLoaded
export type KafkaJSMetadataNotLoaded = K.KafkaJSMetadataNotLoaded
export const KafkaJSTopicMetadataNotLoaded: typeof K.KafkaJSTopicMetadataNotLoaded =
  runtime.KafkaJSTopicMetadataNotLoaded as typeof K.KafkaJSTopicMetadataNotLoaded
export type KafkaJSTopicMetadataNotLoaded = K.KafkaJSTopicMetadataNotLoaded
export const KafkaJSStaleTopicMetadataAssignment: typeof K.KafkaJSStaleTopicMetadataAssignment =
  runtime.KafkaJSStaleTopicMetadataAssignment as typeof K.KafkaJSStaleTopicMetadataAssignment
export type KafkaJSStaleTopicMetadataAssignment = K.KafkaJSStaleTopicMetadataAssignment
export const KafkaJSServerDoesNotSupportApiKey: typeof K.KafkaJSServerDoesNotSupportApiKey =
  runtime.KafkaJSServerDoesNotSupportApiKey as typeof K.KafkaJSServerDoesNotSupportApiKey
export type KafkaJSServerDoesNotSupportApiKey = K.KafkaJSServerDoesNotSupportApiKey
export const KafkaJSBrokerNotFound: typeof K.KafkaJSBrokerNotFound =
  runtime.KafkaJSBrokerNotFound as typeof K.KafkaJSBrokerNotFound
export type KafkaJSBrokerNotFound = K.KafkaJSBrokerNotFound
export const KafkaJSPartialMessageError: typeof K.KafkaJSPartialMessageError =
  runtime.KafkaJSPartialMessageError as typeof K.KafkaJSPartialMessageError
export type KafkaJSPartialMessageError = K.KafkaJSPartialMessageError
export const KafkaJSSASLAuthenticationError: typeof K.KafkaJSSASLAuthenticationError =
  runtime.KafkaJSSASLAuthenticationError as typeof K.KafkaJSSASLAuthenticationError
export type KafkaJSSASLAuthenticationError = K.KafkaJSSASLAuthenticationError
export const KafkaJSGroupCoordinatorNotFound: typeof K.KafkaJSGroupCoordinatorNotFound =
  runtime.KafkaJSGroupCoordinatorNotFound as typeof K.KafkaJSGroupCoordinatorNotFound
export type KafkaJSGroupCoordinatorNotFound = K.KafkaJSGroupCoordinatorNotFound
export const KafkaJSNotImplemented: typeof K.KafkaJSNotImplemented =
  runtime.KafkaJSNotImplemented as typeof K.KafkaJSNotImplemented
export type KafkaJSNotImplemented = K.KafkaJSNotImplemented
export const KafkaJSTimeout: typeof K.KafkaJSTimeout = runtime.KafkaJSTimeout as typeof K.KafkaJSTimeout
export type KafkaJSTimeout = K.KafkaJSTimeout
export const KafkaJSLockTimeout: typeof K.KafkaJSLockTimeout = runtime.KafkaJSLockTimeout as typeof K.KafkaJSLockTimeout
export type KafkaJSLockTimeout = K.KafkaJSLockTimeout
export const KafkaJSUnsupportedMagicByteInMessageSet: typeof K.KafkaJSUnsupportedMagicByteInMessageSet =
  runtime.KafkaJSUnsupportedMagicByteInMessageSet as typeof K.KafkaJSUnsupportedMagicByteInMessageSet
export type KafkaJSUnsupportedMagicByteInMessageSet = K.KafkaJSUnsupportedMagicByteInMessageSet
export const KafkaJSDeleteGroupsError: typeof K.KafkaJSDeleteGroupsError =
  runtime.KafkaJSDeleteGroupsError as typeof K.KafkaJSDeleteGroupsError
export type KafkaJSDeleteGroupsError = K.KafkaJSDeleteGroupsError
export const KafkaJSDeleteTopicRecordsError: typeof K.KafkaJSDeleteTopicRecordsError =
  runtime.KafkaJSDeleteTopicRecordsError as typeof K.KafkaJSDeleteTopicRecordsError
export type KafkaJSDeleteTopicRecordsError = K.KafkaJSDeleteTopicRecordsError
export const KafkaJSConnectionClosedError: UntypedErrorClass = runtime.KafkaJSConnectionClosedError as UntypedErrorClass
export const KafkaJSMemberIdRequired: UntypedErrorClass = runtime.KafkaJSMemberIdRequired as UntypedErrorClass
export const KafkaJSInvariantViolation: UntypedErrorClass = runtime.KafkaJSInvariantViolation as UntypedErrorClass
export const KafkaJSInvalidVarIntError: UntypedErrorClass = runtime.KafkaJSInvalidVarIntError as UntypedErrorClass
export const KafkaJSInvalidLongError: UntypedErrorClass = runtime.KafkaJSInvalidLongError as UntypedErrorClass
export const KafkaJSCreateTopicError: UntypedErrorClass = runtime.KafkaJSCreateTopicError as UntypedErrorClass
export const KafkaJSFetcherRebalanceError: UntypedErrorClass = runtime.KafkaJSFetcherRebalanceError as UntypedErrorClass
export const KafkaJSNoBrokerAvailableError: UntypedErrorClass =
  runtime.KafkaJSNoBrokerAvailableError as UntypedErrorClass

/** Every value name above, for the test that checks nothing KafkaJS exports is missing. */
export const REEXPORTED_NAMES: readonly string[] = Object.freeze([
  'PartitionAssigners',
  'AssignerProtocol',
  'Partitioners',
  'CompressionCodecs',
  'logLevel',
  'CompressionTypes',
  'ConfigResourceTypes',
  'AclResourceTypes',
  'AclOperationTypes',
  'AclPermissionTypes',
  'ResourcePatternTypes',
  'ConfigSource',
  'KafkaJSError',
  'KafkaJSNonRetriableError',
  'KafkaJSProtocolError',
  'KafkaJSAggregateError',
  'KafkaJSOffsetOutOfRange',
  'KafkaJSAlterPartitionReassignmentsError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSServerDoesNotSupportApiKey',
  'KafkaJSBrokerNotFound',
  'KafkaJSPartialMessageError',
  'KafkaJSSASLAuthenticationError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNotImplemented',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
  'KafkaJSUnsupportedMagicByteInMessageSet',
  'KafkaJSDeleteGroupsError',
  'KafkaJSDeleteTopicRecordsError',
  'KafkaJSConnectionClosedError',
  'KafkaJSMemberIdRequired',
  'KafkaJSInvariantViolation',
  'KafkaJSInvalidVarIntError',
  'KafkaJSInvalidLongError',
  'KafkaJSCreateTopicError',
  'KafkaJSFetcherRebalanceError',
  'KafkaJSNoBrokerAvailableError',
])

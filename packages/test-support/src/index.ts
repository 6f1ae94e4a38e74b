// The workspace's test support, one concept per file. Factories that start something register its
// cleanup with vitest's onTestFinished; waitFor, within and sidecarReady stay free of vitest so
// the fault-matrix benchmark can use them outside a test.
export { startCluster } from './cluster.js'
export { randomTopic } from './topics.js'
export { socketPath, tempDir } from './temp-dir.js'
export { fileWith, replaceFile } from './files.js'
export { freePort } from './free-port.js'
export { waitFor, within, type Description } from './waiting.js'
export { produceLog, type ProducedBatch } from './produce-log.js'
export { asText } from './as-text.js'
export { certificateFiles, clientCertificateFiles, kafkajsSsl, type CertificateFiles } from './certificates.js'
export {
  connectedAdmin,
  connectedConsumer,
  connectedProducer,
  consumeWithKafkaJS,
  kafkaFor,
  kafkajsClusterId,
} from './kafkajs.js'
export { startTestSidecar } from './sidecar-in-process.js'
export { grpcTarget } from './grpc-target.js'
export { sidecarReady } from './sidecar-ready.js'
export {
  cleanEnv,
  REPO_ROOT,
  runProgram,
  spawnProgram,
  TSX,
  type Exit,
  type ProgramOptions,
  type RunningProgram,
} from './programs.js'
export { sidecarCli, sidecarStarted, spawnSidecar, type ChildSidecar } from './sidecar-cli.js'
export { fieldBytes, fieldVarint, rawEmitRequest, rawRecord, varint, type RawEmitFields } from './raw-protobuf.js'
export { TEST_TOKEN_MECHANISM } from './sasl-test-token.js'

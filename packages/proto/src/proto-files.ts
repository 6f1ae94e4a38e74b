// Where the .proto sources of the generated code are, for @grpc/proto-loader and reflection.
// A separate ESM-only entry point (`@kafka-sidecar/proto/proto-files`): it needs import.meta.
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { protobufFileName as HEALTH_PROTO_FILE } from './generated/grpc/health/v1/health.js'
import { protobufFileName as CONSUMER_PROTO_FILE } from './generated/kafka_sidecar/v1/consumer.js'
import { protobufFileName as SIDECAR_PROTO_FILE } from './generated/kafka_sidecar/v1/sidecar.js'

/**
 * Absolute path of this package's `proto/` folder (the .proto sources of the generated code), for
 * @grpc/proto-loader (`includeDirs: [PROTO_DIR]`) and @grpc/reflection. Resolved from this module's
 * own location, so it is right from `src/` (workspace) and from `dist/` (published package) alike.
 */
export const PROTO_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'proto')

/**
 * The .proto files, relative to {@link PROTO_DIR}:
 * `protoLoader.load([...PROTO_FILES], { includeDirs: [PROTO_DIR] })`.
 */
export const PROTO_FILES: readonly string[] = Object.freeze([
  SIDECAR_PROTO_FILE,
  CONSUMER_PROTO_FILE,
  HEALTH_PROTO_FILE,
])

/**
 * The sidecar's gRPC server: ProducerSidecar and ConsumerSidecar (behind the decode guard), Health
 * and reflection, bound to a Unix socket (mode 0660) or a TCP address, and shut down by draining
 * with a deadline, then forcing.
 */
import { chmod, rm, stat } from 'node:fs/promises'
import { Server, ServerCredentials } from '@grpc/grpc-js'
import {
  ClusterInfoRequest,
  ConsumeRequest,
  ConsumerSidecarService,
  DeliveryReportsRequest,
  DescribeGroupRequest,
  EmitRequest,
  encodeEmitAck,
  HealthService,
  MAX_REQUEST_BYTES,
  ProducerSidecarService,
  TopicMetadataRequest,
  type ConsumerSidecarServer,
  type ProducerSidecarServer,
} from '@kafka-sidecar/proto'
import { PROTO_DIR, PROTO_FILES } from '@kafka-sidecar/proto/proto-files'
import { loadSync } from '@grpc/proto-loader'
import { ReflectionService } from '@grpc/reflection'
import { formatListenAddress, type ListenAddress } from '../listen-address.js'
import { guardDeserializers } from './decode-guard.js'
import type { HealthState } from './health-service.js'
import { unaryMessageCountInterceptor } from './unary-message-count.js'
import { serializeConsumeEvent } from '../consumer/batch-encoding.js'

export interface GrpcServerSettings {
  readonly maxRequestBytes: number
  readonly connectionIdleMs: number
}

export function createGrpcServer(
  settings: GrpcServerSettings,
  producer: ProducerSidecarServer,
  health: HealthState,
  consumer?: ConsumerSidecarServer,
): Server {
  // Requests over maxRequestBytes are refused one by one by the decode guard; grpc-js's own limit
  // (which fails the whole stream) only stops what is far larger, and never what a client of this
  // contract writes (it splits sends into requests of at most MAX_REQUEST_BYTES).
  const server = new Server({
    'grpc.max_receive_message_length': Math.max(
      2 * settings.maxRequestBytes,
      settings.maxRequestBytes + 4 * 1024 * 1024,
      MAX_REQUEST_BYTES + 4 * 1024 * 1024,
    ),
    // node:http2 answers a broken connection (bad frame, bad HPACK, half a preface) with GOAWAY
    // and leaves the socket to the client; an idle timeout closes such connections too.
    'grpc.max_connection_idle_ms': settings.connectionIdleMs,
    interceptors: [unaryMessageCountInterceptor],
  })
  server.addService(guardedProducerService(settings.maxRequestBytes), producer)
  if (consumer) server.addService(guardedConsumerService(settings.maxRequestBytes), consumer)
  server.addService(HealthService, health.implementation())
  // Server reflection, so grpcurl and similar tools can call the sidecar without the .proto files.
  new ReflectionService(loadSync([...PROTO_FILES], { includeDirs: [PROTO_DIR], keepCase: false })).addToServer(server)
  return server
}

/** ProducerSidecar with every request deserializer behind the decode guard, and acks serialized in one pass. */
function guardedProducerService(maxRequestBytes: number): typeof ProducerSidecarService {
  const guarded = guardDeserializers(
    ProducerSidecarService,
    {
      emit: { typeName: 'EmitRequest', decode: (reader) => EmitRequest.decode(reader) },
      emitStream: { typeName: 'EmitRequest', decode: (reader) => EmitRequest.decode(reader) },
      deliveryReports: {
        typeName: 'DeliveryReportsRequest',
        decode: (reader) => DeliveryReportsRequest.decode(reader),
      },
      topicMetadata: { typeName: 'TopicMetadataRequest', decode: (reader) => TopicMetadataRequest.decode(reader) },
      clusterInfo: { typeName: 'ClusterInfoRequest', decode: (reader) => ClusterInfoRequest.decode(reader) },
    },
    maxRequestBytes,
  )
  return {
    ...guarded,
    emit: { ...guarded.emit, responseSerialize: encodeEmitAck },
    emitStream: { ...guarded.emitStream, responseSerialize: encodeEmitAck },
  }
}

/** ConsumerSidecar with its request deserializers behind the decode guard, and batches serialized in one pass. */
function guardedConsumerService(maxRequestBytes: number): typeof ConsumerSidecarService {
  const guarded = guardDeserializers(
    ConsumerSidecarService,
    {
      consume: { typeName: 'ConsumeRequest', decode: (reader) => ConsumeRequest.decode(reader) },
      describeGroup: { typeName: 'DescribeGroupRequest', decode: (reader) => DescribeGroupRequest.decode(reader) },
    },
    maxRequestBytes,
  )
  return { ...guarded, consume: { ...guarded.consume, responseSerialize: serializeConsumeEvent } }
}

/** Binds the server; resolves with the address clients use (unix:///path.sock, or host:port with the bound port). */
export async function bindGrpc(server: Server, listen: ListenAddress): Promise<string> {
  if (listen.kind === 'unix') await removeStaleSocket(listen.path)
  const target = listen.kind === 'unix' ? `unix:${listen.path}` : formatListenAddress(listen)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(target, ServerCredentials.createInsecure(), (error, boundPort) =>
      error
        ? reject(new Error(`cannot listen on ${formatListenAddress(listen)}: ${error.message}`))
        : resolve(boundPort),
    ),
  )
  if (listen.kind === 'unix') {
    // Owner and group (the app containers sharing the volume) may connect; nobody else.
    await chmod(listen.path, 0o660)
    return `unix://${listen.path}`
  }
  return formatListenAddress({ ...listen, port })
}

/** Removes the socket file of a Unix listen address (nothing for TCP). */
export async function removeSocketFile(listen: ListenAddress): Promise<void> {
  if (listen.kind === 'unix') await rm(listen.path, { force: true })
}

/** Lets calls in progress finish for up to `drainMs` (grpc-js tryShutdown), then cancels the rest (forceShutdown). */
export function shutDownGrpc(server: Server, drainMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, drainMs).unref()
    server.tryShutdown(() => {
      clearTimeout(force)
      resolve()
    })
  })
}

/** A socket file left by a crashed sidecar would make bind fail; remove it, but nothing else. */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await stat(path).catch(() => null)
  if (!info) return
  if (!info.isSocket()) throw new Error(`cannot listen on unix://${path}: a file that is not a socket is in the way`)
  await rm(path)
}

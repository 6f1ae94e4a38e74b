/**
 * The ProducerSidecar client the sidecar path uses: the generated one, but with requests written
 * in one pass (encodeEmitRequest, byte-equal to the generated encoder): every send is one request,
 * and the generated encoder was 10% of a client's CPU on serial sends. The EmitStream encodes its
 * requests itself (emit-stream.ts) and writes the bytes, which pass through.
 */
import { makeGenericClientConstructor } from '@grpc/grpc-js'
import {
  encodeEmitRequest,
  ProducerSidecarService,
  type EmitRequest,
  type ProducerSidecarClient,
} from '@kafka-sidecar/proto'

const serialize = (request: EmitRequest | Buffer): Buffer =>
  Buffer.isBuffer(request) ? request : encodeEmitRequest(request)

export const OnePassProducerSidecarClient = makeGenericClientConstructor(
  {
    ...ProducerSidecarService,
    emit: { ...ProducerSidecarService.emit, requestSerialize: serialize },
    emitStream: { ...ProducerSidecarService.emitStream, requestSerialize: serialize },
  },
  'kafka_sidecar.v1.ProducerSidecar',
) as unknown as typeof ProducerSidecarClient

/**
 * The ProducerSidecar client the sidecar path uses: the generated one, but with requests written
 * in one pass (encodeEmitRequest, byte-equal to the generated encoder): every send is one request,
 * and the generated encoder was 10% of a client's CPU on serial sends.
 */
import { makeGenericClientConstructor } from '@grpc/grpc-js'
import { encodeEmitRequest, ProducerSidecarService, type ProducerSidecarClient } from '@kafka-sidecar/proto'

export const OnePassProducerSidecarClient = makeGenericClientConstructor(
  {
    ...ProducerSidecarService,
    emit: { ...ProducerSidecarService.emit, requestSerialize: encodeEmitRequest },
    emitStream: { ...ProducerSidecarService.emitStream, requestSerialize: encodeEmitRequest },
  },
  'kafka_sidecar.v1.ProducerSidecar',
) as unknown as typeof ProducerSidecarClient

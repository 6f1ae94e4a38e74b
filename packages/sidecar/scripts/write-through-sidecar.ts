/**
 * For kcat-check.sh: writes a known set of records to a topic through a real sidecar (this
 * process, configured by the KAFKA_* variables as the CLI is, encoder included), one request
 * uncompressed and one gzip, then stops the sidecar. librdkafka's kcat then reads them back: the
 * record batches the sidecar encoded must be ones a second, independent client decodes.
 *
 * Usage: tsx --conditions=@kafka-sidecar/source write-through-sidecar.ts <topic> <socket path>
 * Prints the encoder and each ack's offsets; exits non-zero when a record is not acked.
 */
import { credentials, Metadata } from '@grpc/grpc-js'
import { Acks, Compression, ProducerSidecarClient, type EmitAck, type EmitRequest } from '@kafka-sidecar/proto'
import { startSidecar } from '../src/index.js'

const [topic, socket] = process.argv.slice(2)
if (!topic || !socket) throw new Error('usage: write-through-sidecar.ts <topic> <socket path>')

const text = (s: string) => Buffer.from(s)
const header = (key: string, value: string) => ({ key, value: text(value) })

/** The records kcat-check.sh expects, in this order, all in partition 0. */
const REQUESTS: Array<{ compression: Compression; records: EmitRequest['topics'][number]['records'] }> = [
  {
    compression: Compression.COMPRESSION_NONE,
    records: [
      {
        key: text('k1'),
        value: text('v1'),
        headers: [header('h', 'a'), header('h', 'b'), header('ünï', 'c')],
        partition: 0,
        timestampMs: 1_700_000_000_001,
      },
      { value: text('v2'), headers: [], partition: 0, timestampMs: 1_700_000_000_002 },
    ],
  },
  {
    compression: Compression.COMPRESSION_GZIP,
    records: [
      {
        key: text('k3'),
        value: text(`gz-${'x'.repeat(50)}`),
        headers: [header('g', '1')],
        partition: 0,
        timestampMs: 1_700_000_000_003,
      },
      { key: text('k4'), headers: [], partition: 0, timestampMs: 1_600_000_000_004 },
    ],
  },
]

function emit(client: ProducerSidecarClient, request: EmitRequest): Promise<EmitAck> {
  return new Promise((resolve, reject) =>
    client.emit(request, new Metadata(), (error, ack) => (error ? reject(error) : resolve(ack!))),
  )
}

const sidecar = await startSidecar({ fromEnv: true, listen: `unix://${socket}`, http: 'off', logLevel: 'warn' })
const client = new ProducerSidecarClient(`unix:${socket}`, credentials.createInsecure())
try {
  await sidecar.ready
  process.stdout.write(`encoder: ${process.env.KAFKA_SIDECAR_PRODUCE_ENCODER ?? 'default (sidecar)'}\n`)
  let requestId = 1
  for (const { compression, records } of REQUESTS) {
    const ack = await emit(client, {
      requestId: requestId++,
      clientId: 'kcat-check',
      appName: 'kcat-check',
      instanceId: 'kcat-check',
      acks: Acks.ACKS_ALL,
      timeoutMs: 30_000,
      compression,
      awaitDelivery: true,
      topics: [{ topic, records }],
    })
    const failed = ack.error ?? ack.results.find((r) => r.error)?.error
    if (failed) throw new Error(`not written: ${failed.message}`)
    process.stdout.write(
      `acked: ${ack.results.map((r) => `partition ${r.partition} offset ${r.baseOffset}`).join(', ')}\n`,
    )
  }
} finally {
  client.close()
  await sidecar.stop()
}

/**
 * The floor of the sidecar's extra hop on this machine: the CPU and latency of a process that only
 * relays, with no Kafka protocol, pipeline or metrics work at all. A client sends a small message
 * (--size bytes) and waits for its answer, one at a time (the serial send); the relay passes it to
 * a "broker" (an echo server over TCP on 127.0.0.1, in this process) and the answer back. Measured
 * for a relay on plain sockets (net: the least any Node process can do per hop) and for one
 * serving a grpc-js bidirectional stream over a Unix socket, as the sidecar does (the least a
 * grpc-js sidecar can do). A direct round trip to the echo server is the baseline, as direct mode.
 *
 * The relay is a child process; its CPU (user + system, all threads) is read with
 * process.cpuUsage() around the measured round trips, after --warmup unmeasured ones.
 *
 *   pnpm bench:hop-floor [--round-trips 20000] [--warmup 5000] [--size 120]
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as grpc from '@grpc/grpc-js'

type RelayKind = 'net' | 'grpc'

/** Bytes in, the same bytes out: no protobuf, so what is measured is grpc-js and the sockets. */
const passThrough = (b: Buffer) => b
const RELAY_SERVICE = {
  relay: {
    path: '/hop_floor.Relay/Relay',
    requestStream: true,
    responseStream: true,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
} satisfies grpc.ServiceDefinition

/** A child process's side: relay every message to the broker, every answer back, in order. */
async function relayMain(kind: RelayKind, socketPath: string, brokerPort: number): Promise<void> {
  // Ends with its parent, however that ends.
  process.on('disconnect', () => process.exit(0))
  const broker = net.connect(brokerPort, '127.0.0.1')
  broker.setNoDelay(true)
  const answerTo: Array<(answer: Buffer) => void> = []
  broker.on('data', (answer: Buffer) => answerTo.shift()!(answer))
  let cpuAtStart = process.cpuUsage()
  process.on('message', (message: string) => {
    if (message === 'start') cpuAtStart = process.cpuUsage()
    if (message === 'cpu') {
      const used = process.cpuUsage(cpuAtStart)
      process.send!({ cpuMicros: used.user + used.system })
    }
  })
  if (kind === 'net') {
    const server = net.createServer((client) => {
      client.on('data', (message: Buffer) => {
        answerTo.push((answer) => client.write(answer))
        broker.write(message)
      })
    })
    server.listen(socketPath, () => process.send!('ready'))
    return
  }
  const server = new grpc.Server()
  server.addService(RELAY_SERVICE, {
    relay: (call: grpc.ServerDuplexStream<Buffer, Buffer>) =>
      call.on('data', (message: Buffer) => {
        answerTo.push((answer) => call.write(answer))
        broker.write(message)
      }),
  })
  server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) {
      console.error(`the grpc relay cannot listen on ${socketPath}: ${error.message}`)
      process.exit(1)
    }
    process.send!('ready')
  })
}

interface Measured {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly perSecond: number
  readonly relayCpuMicros: number | null
}

/** A function that sends one message and resolves with its answer. */
type RoundTrip = () => Promise<void>

function netRoundTrip(socket: net.Socket, payload: Buffer): RoundTrip {
  let answered: (() => void) | null = null
  socket.on('data', () => answered?.())
  return () =>
    new Promise((resolve) => {
      answered = resolve
      socket.write(payload)
    })
}

function grpcRoundTrip(socketPath: string, payload: Buffer): { roundTrip: RoundTrip; close: () => void } {
  const Client = grpc.makeGenericClientConstructor(RELAY_SERVICE, 'hop_floor.Relay')
  const client = new Client(`unix:${socketPath}`, grpc.credentials.createInsecure())
  const call = (client as unknown as { relay(): grpc.ClientDuplexStream<Buffer, Buffer> }).relay()
  let answered: (() => void) | null = null
  call.on('data', () => answered?.())
  call.on('error', () => {})
  return {
    roundTrip: () =>
      new Promise((resolve) => {
        answered = resolve
        call.write(payload)
      }),
    close: () => {
      call.cancel()
      client.close()
    },
  }
}

async function measure(roundTrip: RoundTrip, count: number, warmup: number, relay?: ChildProcess): Promise<Measured> {
  for (let i = 0; i < warmup; i++) await roundTrip()
  relay?.send('start')
  const latencies = new Float64Array(count)
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const sent = performance.now()
    await roundTrip()
    latencies[i] = performance.now() - sent
  }
  const elapsedMs = performance.now() - started
  const relayCpuMicros = relay ? await relayCpu(relay) : null
  latencies.sort()
  return {
    p50Ms: latencies[Math.floor(count * 0.5)]!,
    p99Ms: latencies[Math.floor(count * 0.99)]!,
    perSecond: count / (elapsedMs / 1000),
    relayCpuMicros: relayCpuMicros === null ? null : relayCpuMicros / count,
  }
}

function relayCpu(relay: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    relay.once('message', (m: { cpuMicros: number }) => resolve(m.cpuMicros))
    relay.send('cpu')
  })
}

async function startRelay(kind: RelayKind, socketPath: string, brokerPort: number): Promise<ChildProcess> {
  const relay = fork(fileURLToPath(import.meta.url), ['--relay', kind, socketPath, String(brokerPort)])
  await new Promise<void>((resolve, reject) => {
    relay.once('message', () => resolve())
    relay.once('exit', (code) => reject(new Error(`the ${kind} relay exited (${code}) before it was ready`)))
  })
  return relay
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      'round-trips': { type: 'string', default: '20000' },
      warmup: { type: 'string', default: '5000' },
      size: { type: 'string', default: '120' },
    },
  })
  const count = Number(values['round-trips'])
  const warmup = Number(values.warmup)
  const payload = Buffer.alloc(Number(values.size), 1)
  const echo = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('data', (message) => socket.write(message))
  })
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  const brokerPort = (echo.address() as net.AddressInfo).port
  const dir = mkdtempSync(join(tmpdir(), 'hop-floor-'))
  const relays: ChildProcess[] = []
  try {
    const direct = net.connect(brokerPort, '127.0.0.1')
    direct.setNoDelay(true)
    const results: Record<string, Measured> = {
      'direct (no relay)': await measure(netRoundTrip(direct, payload), count, warmup),
    }
    direct.destroy()

    const netRelay = await startRelay('net', join(dir, 'net.sock'), brokerPort)
    relays.push(netRelay)
    const toNetRelay = net.connect(join(dir, 'net.sock'))
    results['relay on plain sockets'] = await measure(netRoundTrip(toNetRelay, payload), count, warmup, netRelay)
    toNetRelay.destroy()

    const grpcRelay = await startRelay('grpc', join(dir, 'grpc.sock'), brokerPort)
    relays.push(grpcRelay)
    const toGrpcRelay = grpcRoundTrip(join(dir, 'grpc.sock'), payload)
    results['relay serving a grpc-js stream'] = await measure(toGrpcRelay.roundTrip, count, warmup, grpcRelay)
    toGrpcRelay.close()

    console.log(
      `hop floor: ${count.toLocaleString('en-US')} serial round trips of ${payload.length} bytes after ${warmup.toLocaleString('en-US')} unmeasured\n`,
    )
    console.log(
      `${''.padEnd(32)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'per s'.padStart(9)}${'relay CPU µs'.padStart(15)}`,
    )
    const base = results['direct (no relay)']!
    for (const [name, m] of Object.entries(results)) {
      const cpu = m.relayCpuMicros === null ? '-' : m.relayCpuMicros.toFixed(1)
      console.log(
        `${name.padEnd(32)}${m.p50Ms.toFixed(3).padStart(9)}${m.p99Ms.toFixed(3).padStart(9)}${Math.round(m.perSecond).toString().padStart(9)}${cpu.padStart(15)}`,
      )
    }
    const grpcRelayed = results['relay serving a grpc-js stream']!
    console.log(
      `\nthe extra hop at its floor (grpc-js relay vs direct): p50 +${(grpcRelayed.p50Ms - base.p50Ms).toFixed(3)} ms, p99 +${(grpcRelayed.p99Ms - base.p99Ms).toFixed(3)} ms, ${grpcRelayed.relayCpuMicros!.toFixed(1)} µs of relay CPU a round trip`,
    )
  } finally {
    for (const relay of relays) relay.kill()
    echo.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--relay') {
  await relayMain(process.argv[3] as RelayKind, process.argv[4]!, Number(process.argv[5]))
} else {
  await main()
  process.exit(0)
}

/**
 * The TCP front end of one broker: accepts connections (over TLS when the listener has it), counts
 * them (the number this project exists to reduce), and can stop and listen again on the same port,
 * keeping cluster state.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TlsOptions } from 'node:tls'
import { Connection, type ConnectionEnvironment } from './connection.js'

export interface ListenerEnvironment extends Omit<ConnectionEnvironment, 'onClientId'> {
  /** TLS for every connection, or undefined for plaintext. */
  readonly tls: TlsOptions | undefined
}

export interface ConnectionStats {
  readonly brokerId: number
  /** Connections open now. */
  readonly current: number
  /** Most connections open at once since the cluster started (or since resetConnectionStats()). */
  readonly peak: number
  /** Connections accepted in all. */
  readonly total: number
  /** Client ids seen in request headers on this broker. */
  readonly clientIds: readonly string[]
}

export class BrokerServer {
  private server: Server | null = null
  private readonly connections = new Set<{ socket: Socket; connection: Connection }>()
  /** Every TCP connection, TLS handshakes in progress included, so stop() can drop them all. */
  private readonly sockets = new Set<Socket>()
  private peak = 0
  private total = 0
  private readonly clientIds = new Set<string>()

  constructor(
    readonly brokerId: number,
    private readonly env: ListenerEnvironment,
  ) {}

  get listening(): boolean {
    return this.server !== null
  }

  /** Listens on host:port (0 picks a free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = this.createServer()
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject)
        this.server = server
        resolve((server.address() as { port: number }).port)
      })
    })
  }

  private createServer(): Server {
    const { tls } = this.env
    if (!tls) return createServer((socket) => this.accept(socket))
    const server = createTlsServer(tls, (socket) => this.accept(socket))
    // A client that is not speaking TLS, or (mutual TLS) has no certificate the CA signed.
    server.on('tlsClientError', (error, socket) =>
      this.env.log('warn', `TLS handshake failed: ${error.message}`, {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      }),
    )
    return server
  }

  private accept(socket: Socket): void {
    const connection = new Connection(socket, { ...this.env, onClientId: (id) => this.clientIds.add(id) })
    const entry = { socket, connection }
    this.connections.add(entry)
    this.total++
    this.peak = Math.max(this.peak, this.connections.size)
    socket.once('close', () => this.connections.delete(entry))
  }

  /** Stops listening and drops every connection, as a crashed broker would. */
  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = null
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const { socket } of this.connections) socket.destroy()
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    this.connections.clear()
    await closed
  }

  stats(): ConnectionStats {
    return {
      brokerId: this.brokerId,
      current: this.connections.size,
      peak: this.peak,
      total: this.total,
      clientIds: [...this.clientIds],
    }
  }

  resetStats(): void {
    this.peak = this.connections.size
    this.total = this.connections.size
    this.clientIds.clear()
  }
}

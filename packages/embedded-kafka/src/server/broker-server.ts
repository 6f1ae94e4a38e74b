/**
 * The TCP front end of one broker: accepts connections, counts them (the number this project
 * exists to reduce), and can stop and listen again on the same port, keeping cluster state.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { Connection, type ConnectionEnvironment } from './connection.js'

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
  private peak = 0
  private total = 0
  private readonly clientIds = new Set<string>()

  constructor(
    readonly brokerId: number,
    private readonly env: Omit<ConnectionEnvironment, 'onClientId'>,
  ) {}

  get listening(): boolean {
    return this.server !== null
  }

  /** Listens on host:port (0 picks a free port); resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = createServer((socket) => this.accept(socket))
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject)
        this.server = server
        resolve((server.address() as { port: number }).port)
      })
    })
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

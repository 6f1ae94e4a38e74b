/** Tracks open streams per client instance (the connected-clients gauge) and ends them at shutdown. */
export class OpenStreams {
  /** By instance id; a stream without one counts as an instance of its own (keyed by an object). */
  private readonly byInstance = new Map<string | object, number>()
  private readonly streams = new Set<{ end(): void }>()

  add(stream: { end(): void }): () => void {
    this.streams.add(stream)
    return () => this.streams.delete(stream)
  }

  noteInstance(instanceId: string | object): () => void {
    this.byInstance.set(instanceId, (this.byInstance.get(instanceId) ?? 0) + 1)
    return () => {
      const n = this.byInstance.get(instanceId)! - 1
      if (n === 0) this.byInstance.delete(instanceId)
      else this.byInstance.set(instanceId, n)
    }
  }

  get connectedInstances(): number {
    return this.byInstance.size
  }

  endAll(): void {
    for (const s of this.streams) s.end()
    this.streams.clear()
  }
}

/**
 * Keeps per-partition order across a switch between the sidecar and the direct path: a send may
 * use a path only when nothing is in flight on the other one. The client does not know which
 * partitions the sidecar picked, so the gate is per producer rather than per partition: coarser,
 * and only ever waits while a switch is under way.
 *
 * Waiters are served in arrival order, and a waiter blocks later arrivals even for the current
 * path, so a stream of new sends cannot starve a switch.
 */
export type PathName = 'sidecar' | 'direct'

export class PathGate {
  private current: PathName | null = null
  private inFlight = 0
  private readonly waiters: Array<{ path: PathName; admit: () => void }> = []

  /** Resolves when `path` may be used; call `leave()` once the send on it has settled. */
  enter(path: PathName): Promise<void> {
    if (this.waiters.length === 0 && (this.inFlight === 0 || this.current === path)) {
      this.current = path
      this.inFlight++
      return Promise.resolve()
    }
    return new Promise((admit) => this.waiters.push({ path, admit }))
  }

  leave(): void {
    this.inFlight--
    if (this.inFlight > 0 || this.waiters.length === 0) return
    const path = this.waiters[0]!.path
    this.current = path
    while (this.waiters.length > 0 && this.waiters[0]!.path === path) {
      this.inFlight++
      this.waiters.shift()!.admit()
    }
  }

  /** Sends in flight on any path, and whether anyone waits to switch. */
  get busy(): boolean {
    return this.inFlight > 0 || this.waiters.length > 0
  }

  get activePath(): PathName | null {
    return this.inFlight > 0 ? this.current : null
  }
}

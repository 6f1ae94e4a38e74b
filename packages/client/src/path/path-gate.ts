/**
 * Keeps per-partition order across a switch between the sidecar and the direct path: a send may
 * use a path only when nothing is in flight on the other one. The client does not know which
 * partitions the sidecar picked, so the gate is per producer rather than per partition: coarser,
 * and only ever waits while a switch is under way.
 *
 * Waiters are served in send order (each send takes a ticket when it starts), and a waiter blocks
 * later arrivals even for the current path, so a stream of new sends cannot starve a switch.
 * A send that fails on the sidecar and is resent directly keeps its ticket (`switchTo`): sends
 * on one stream can fail in any order (a broken stream, a deadline, a rejected half-open probe),
 * and resending them in the order they failed would write later records before earlier ones.
 */
export type PathName = 'sidecar' | 'direct'

export class PathGate {
  private current: PathName | null = null
  private inFlight = 0
  private lastTicket = 0
  /** Sorted by ticket. */
  private readonly waiters: Array<{ path: PathName; ticket: number; admit: () => void }> = []

  /** A place in line; take it when the send starts, in the caller's order. */
  ticket(): number {
    this.lastTicket = this.lastTicket >= Number.MAX_SAFE_INTEGER ? 1 : this.lastTicket + 1
    return this.lastTicket
  }

  /** Resolves when `path` may be used; call `leave()` once the send on it has settled. */
  enter(path: PathName, ticket: number = this.ticket()): Promise<void> {
    if (this.waiters.length === 0 && (this.inFlight === 0 || this.current === path)) {
      this.current = path
      this.inFlight++
      return Promise.resolve()
    }
    return this.wait(path, ticket)
  }

  leave(): void {
    this.inFlight--
    this.admitNext()
  }

  /**
   * Gives up the slot this send holds and waits for `path` in the send's original place in line,
   * ahead of every send that started after it.
   */
  switchTo(path: PathName, ticket: number): Promise<void> {
    this.inFlight--
    const admitted = this.wait(path, ticket)
    // Admit on the next microtask, once the caller awaits `admitted`: admitting now would let
    // waiters admitted with it resume (and start sending) before this send, whatever the order.
    queueMicrotask(() => this.admitNext())
    return admitted
  }

  /** Sends in flight on any path, and whether anyone waits to switch. */
  get busy(): boolean {
    return this.inFlight > 0 || this.waiters.length > 0
  }

  get activePath(): PathName | null {
    return this.inFlight > 0 ? this.current : null
  }

  private wait(path: PathName, ticket: number): Promise<void> {
    return new Promise((admit) => {
      let at = this.waiters.length
      while (at > 0 && this.waiters[at - 1]!.ticket > ticket) at--
      this.waiters.splice(at, 0, { path, ticket, admit })
    })
  }

  private admitNext(): void {
    if (this.inFlight > 0 || this.waiters.length === 0) return
    const path = this.waiters[0]!.path
    this.current = path
    while (this.waiters.length > 0 && this.waiters[0]!.path === path) {
      this.inFlight++
      this.waiters.shift()!.admit()
    }
  }
}

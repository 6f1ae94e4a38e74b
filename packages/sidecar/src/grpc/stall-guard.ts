/**
 * Refuses the requests a sidecar reads right after its event loop stood still.
 *
 * A sidecar that is stopped (SIGSTOP), throttled to zero or blocked keeps its socket open, so
 * clients go on writing requests into it; after `livenessTimeoutMs` (2 s by default) without an
 * answer to their pings they give the connection up and send those records directly. When the
 * sidecar runs again it reads the buffered requests before it notices the connections are gone,
 * and would write every one of them a second time. So a request read while the loop has just
 * stood still for longer than its client could wait is refused as UNAVAILABLE, unqueued: a client
 * still waiting for it (a longer liveness timeout) hears the refusal and sends it directly, once.
 *
 * How long a client waits is its own: it says its liveness timeout in a call header
 * (LIVENESS_HEADER), and gives a connection up no sooner than 3/4 of it (a ping every quarter,
 * three quarters for the answer), so a stall shorter than STALL_SHARE of it cannot have made that
 * client send anything directly. Refusing those too would make a sidecar that is only busy (a
 * large request decoded on a loaded machine) push its own clients onto the direct path, where
 * records it already wrote are written again. A client that says nothing gets STALL_MS.
 */
import { performance } from 'node:perf_hooks'

/** A pause this long is a stall for a client that did not say its liveness timeout: half the default. */
export const STALL_MS = 1_000
/** The share of a client's liveness timeout a pause must exceed to be a stall for it (it waits at least 3/4). */
const STALL_SHARE = 0.6
/** Pauses shorter than this are no stall for any client (the shortest liveness timeout is 200 ms). */
const SHORTEST_STALL_MS = 0.6 * 200
const TICK_MS = 100
/** After a stall, how long what is read counts as read during it (the buffered burst). */
const AFTER_STALL_MS = 250

export class StallGuard {
  private lastTick = performance.now()
  private lastStallMs = 0
  private refuseUntil = 0
  private readonly timer: NodeJS.Timeout

  constructor(private readonly stallMs: number = STALL_MS) {
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.timer.unref()
  }

  /** Why a request read now, from a client with this liveness timeout (if it said), must be refused, or null. */
  refusal(clientLivenessMs?: number): string | null {
    const threshold =
      clientLivenessMs === undefined ? this.stallMs : Math.max(SHORTEST_STALL_MS, clientLivenessMs * STALL_SHARE)
    const now = performance.now()
    const pause = now - this.lastTick
    // Read in the same turn of the loop that ended the stall, before the timer could run.
    if (pause > threshold) return this.explain(pause)
    if (now < this.refuseUntil && this.lastStallMs > threshold) return this.explain(this.lastStallMs)
    return null
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private tick(): void {
    const now = performance.now()
    const pause = now - this.lastTick
    if (pause > Math.min(this.stallMs, SHORTEST_STALL_MS)) {
      this.lastStallMs = pause
      this.refuseUntil = now + AFTER_STALL_MS
    }
    this.lastTick = now
  }

  private explain(pauseMs: number): string {
    return `not queued: the sidecar's event loop stood still for ${Math.round(pauseMs)} ms (stopped, throttled or blocked) and this request was read during it; its client may already have sent it directly`
  }
}

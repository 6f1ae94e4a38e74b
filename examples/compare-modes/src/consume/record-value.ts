/**
 * What the comparison's records carry, shared by the parent that produces them and the workers that
 * consume them: the phase that produced the record, its sequence number in that phase, and when it
 * was sent, so a worker's receive time minus the value's send time is the end-to-end latency.
 */

/** The phases that produce: the backlog before the workers start, the live phase, the rolling restart. */
export const PHASES = ['backlog', 'live', 'restart'] as const
export type Phase = (typeof PHASES)[number]

/** The phase's index in PHASES, as the workers report it (one byte per record). */
export type PhaseCode = 0 | 1 | 2

/**
 * Wall-clock milliseconds with sub-millisecond precision, comparable between the processes of one
 * machine: each process's time origin is read from the same system clock, and performance.now()
 * is monotonic from there.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now()
}

/** "<phase code>:<seq>:<send time>:" then padding to `bytes`. */
export function consumeValue(phase: PhaseCode, seq: number, sentAtMs: number, bytes: number): string {
  const head = `${phase}:${seq}:${sentAtMs.toFixed(3)}:`
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length)
}

export interface ParsedValue {
  readonly phase: PhaseCode
  readonly seq: number
  readonly sentAtMs: number
}

/** The value's fields, or null for a record this comparison did not write. */
export function parseConsumeValue(value: Buffer | null): ParsedValue | null {
  if (!value) return null
  const [p, s, t] = value.toString('latin1', 0, Math.min(value.length, 48)).split(':')
  const phase = Number(p)
  const seq = Number(s)
  const sentAtMs = Number(t)
  if (!(phase === 0 || phase === 1 || phase === 2) || !Number.isInteger(seq) || !Number.isFinite(sentAtMs)) return null
  return { phase, seq, sentAtMs }
}

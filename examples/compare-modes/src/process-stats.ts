/**
 * CPU and resident memory of another process, read from /proc (Linux). Elsewhere the numbers are
 * reported as unavailable rather than guessed.
 */
import { readFileSync } from 'node:fs'

/** Clock ticks per second for /proc/<pid>/stat times; 100 on every mainstream Linux. */
const TICKS_PER_SECOND = 100

export interface ProcessSample {
  readonly at: number
  readonly cpuSeconds: number
  readonly rssMb: number
}

export function sampleProcess(pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    return { at: Date.now(), cpuSeconds, rssMb: rssKb / 1024 }
  } catch {
    return null
  }
}

/** CPU seconds used so far by these processes together (one that cannot be read counts 0). */
export function cpuSecondsOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (sampleProcess(pid)?.cpuSeconds ?? 0), 0)
}

/** Samples a process at an interval; `stop()` returns what was seen. */
export function watchProcess(pid: number, intervalMs = 250): { stop(): ProcessSample[] } {
  const samples: ProcessSample[] = []
  const take = () => {
    const s = sampleProcess(pid)
    if (s) samples.push(s)
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return samples
    },
  }
}

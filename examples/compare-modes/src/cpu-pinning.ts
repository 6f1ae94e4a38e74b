/**
 * `--pin`: the application's processes on one core, the sidecar on another (Linux, taskset). On a
 * two-core machine, unpinned, the workers, the sidecar and the embedded brokers all compete for
 * both cores, so a sidecar-mode number mixes the sidecar's own cost with that contention. Pinned,
 * the workers get core 0 in both modes (as an application container would get its CPU) and the
 * sidecar core 1 (its own container's); the embedded brokers, which in production run elsewhere,
 * stay unpinned. Every thread of a process is pinned (`taskset -a`): V8's and libuv's too.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

export const APPLICATION_CORE = 0
export const SIDECAR_CORE = 1

/** Why pinning cannot be done here, or null when it can. */
export function pinningUnavailable(): string | null {
  if (process.platform !== 'linux') return `--pin needs Linux (taskset), not ${process.platform}`
  if (availableParallelism() < 2) return `--pin needs two cores, this machine has ${availableParallelism()}`
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
  } catch {
    return '--pin needs taskset (util-linux) on the PATH'
  }
  return null
}

/**
 * Pins every thread of `pid` to `core`; throws naming the process when it is not pinned after
 * (`taskset -a` exits 0 for a process that does not exist, so the kernel's answer is read back).
 */
export function pinToCore(pid: number, core: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' })
    const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    if (allowed !== String(core)) throw new Error(`it may run on cores ${allowed}`)
  } catch (error) {
    throw new Error(`taskset could not pin process ${pid} to core ${core}: ${(error as Error).message}`)
  }
}

/** `--pin`'s taskset calls pin every thread of a running process to one core. */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { pinningUnavailable, pinToCore } from '../src/cpu-pinning.js'

const unavailable = pinningUnavailable()

function allowedCpus(pid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!
}

describe('pinToCore', () => {
  it.skipIf(unavailable !== null)('pins a running process, every thread, to the core named', async () => {
    // A node child has several threads (V8's platform workers, libuv's) by the time it is pinned.
    const child = spawn(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 30_000)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve))
      pinToCore(child.pid!, 1)
      expect(allowedCpus(child.pid!)).toBe('1')
      const threads = readdirSync(`/proc/${child.pid}/task`)
      expect(threads.length).toBeGreaterThan(1)
      for (const tid of threads) {
        const status = readFileSync(`/proc/${child.pid}/task/${tid}/status`, 'utf8')
        expect(/Cpus_allowed_list:\s*(\S+)/.exec(status)![1], `thread ${tid}`).toBe('1')
      }
    } finally {
      child.kill('SIGKILL')
    }
  })

  it.skipIf(unavailable !== null)('names the process when it cannot be pinned', () => {
    // A pid past the kernel's pid_max never exists.
    expect(() => pinToCore(2 ** 22 + 1, 0)).toThrow(/could not pin process 4194305 to core 0/)
  })
})

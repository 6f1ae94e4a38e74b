import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

/** A fresh directory, removed with everything in it when the test ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-sidecar-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A Unix socket path nobody listens on yet, in a fresh temp dir. */
export async function socketPath(): Promise<string> {
  return join(await tempDir(), 'sidecar.sock')
}

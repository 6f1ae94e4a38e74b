/** The workers get the built packages: the source condition is dropped, and a stale build is refused. */
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '@kafka-sidecar/test-support'
import { builtPackagesExecArgv, staleBuild } from '../src/built-packages.js'

describe('builtPackagesExecArgv', () => {
  it('drops the source condition in every spelling and keeps every other flag in order', () => {
    const tsx = ['--require', '/x/preflight.cjs', '--import', 'file:///x/loader.mjs']
    expect(builtPackagesExecArgv([...tsx, '--conditions=@kafka-sidecar/source'])).toEqual(tsx)
    expect(builtPackagesExecArgv(['--conditions', '@kafka-sidecar/source', ...tsx])).toEqual(tsx)
    expect(builtPackagesExecArgv(['-C', '@kafka-sidecar/source', '--cpu-prof'])).toEqual(['--cpu-prof'])
    // Other conditions stay: they are the caller's.
    expect(builtPackagesExecArgv(['--conditions=development', '--conditions', 'other'])).toEqual([
      '--conditions=development',
      '--conditions',
      'other',
    ])
  })
})

describe('staleBuild', () => {
  const names = ['client', 'sidecar', 'embedded-kafka', 'options', 'proto']

  async function workspace(): Promise<string> {
    const dir = await tempDir()
    for (const name of names) {
      await mkdir(join(dir, name, 'src'), { recursive: true })
      await mkdir(join(dir, name, 'dist'), { recursive: true })
      await writeFile(join(dir, name, 'src', 'index.ts'), '')
      await writeFile(join(dir, name, 'dist', 'index.js'), '')
      const old = new Date(Date.now() - 60_000)
      await utimes(join(dir, name, 'src', 'index.ts'), old, old)
    }
    return dir
  }

  it('accepts builds newer than their sources', async () => {
    expect(staleBuild(await workspace())).toBeNull()
  })

  it('names a package whose source changed after its build', async () => {
    const dir = await workspace()
    await writeFile(join(dir, 'client', 'src', 'changed.ts'), '')
    const later = new Date(Date.now() + 60_000)
    await utimes(join(dir, 'client', 'src', 'changed.ts'), later, later)
    expect(staleBuild(dir)).toBe('packages/client/dist is older than its src')
  })

  it('names a package that was never built', async () => {
    const dir = await workspace()
    await rm(join(dir, 'proto', 'dist'), { recursive: true })
    expect(staleBuild(dir)).toBe('packages/proto/dist is missing')
  })
})

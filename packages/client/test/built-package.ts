/**
 * Tools for tests that use the *built* package (dist/), as an application would: where it is,
 * whether the build is current, and a throwaway application that depends on it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { tempDir } from './helpers.js'

export const packageDir = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

/** The built entry points exist and no source changed since the last build (a stale build would test old code). */
export function expectFreshBuild(): void {
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts']) {
    expect(existsSync(join(packageDir, file)), `${file} missing: run \`pnpm build\` first`).toBe(true)
  }
  const sources = newestMtime(join(packageDir, 'src'))
  for (const dir of ['dist', 'dist/cjs']) {
    expect(newestMtime(join(packageDir, dir)), `${dir} is older than src: run \`pnpm build\` first`).toBeGreaterThanOrEqual(sources)
  }
}

/**
 * A throwaway application in a temp dir (removed when the test ends) whose node_modules links
 * to this package, kafkajs and @types/node: it sees the package only through its "exports".
 */
export async function tempApp(files: Readonly<Record<string, string>>, packageJson: object = { type: 'module' }): Promise<string> {
  const app = await tempDir()
  const link = async (name: string, target: string) => {
    await mkdir(dirname(join(app, 'node_modules', name)), { recursive: true })
    await symlink(target, join(app, 'node_modules', name), 'dir')
  }
  await link('@kafka-sidecar/client', packageDir)
  await link('kafkajs', await realpath(join(packageDir, 'node_modules', 'kafkajs')))
  await link('@types/node', dirname(require.resolve('@types/node/package.json')))
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, ...packageJson }))
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(app, name)), { recursive: true })
    await writeFile(join(app, name), content)
  }
  return app
}

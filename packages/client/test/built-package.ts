/**
 * Tools for tests that use the *built* package (dist/), as an application would: where it is,
 * whether the build is current, and a throwaway application that depends on it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { cp, mkdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { tempDir } from '@kafka-sidecar/test-support'

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
    expect(
      newestMtime(join(packageDir, dir)),
      `${dir} is older than src: run \`pnpm build\` first`,
    ).toBeGreaterThanOrEqual(sources)
  }
}

/**
 * A throwaway application in a temp dir (removed when the test ends) whose node_modules links
 * to this package, kafkajs and @types/node: it sees the package only through its "exports".
 */
export async function tempApp(
  files: Readonly<Record<string, string>>,
  packageJson: object = { type: 'module' },
): Promise<string> {
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

/**
 * A throwaway application with this package *installed* as a package manager would: a copy of
 * package.json and dist/ under node_modules, each of its `dependencies` in the package's own
 * node_modules (as a strict installer nests them), its peers left to the application. The
 * application gets kafkajs, and with `withPromClient` a prom-client copy of its own (a separate
 * module instance from the one this workspace's packages use).
 */
export async function installedApp(
  files: Readonly<Record<string, string>>,
  { packageJson = { type: 'module' }, withPromClient = true }: { packageJson?: object; withPromClient?: boolean } = {},
): Promise<string> {
  const app = await tempDir()
  const modules = join(app, 'node_modules')
  const link = async (at: string, target: string) => {
    await mkdir(dirname(at), { recursive: true })
    await symlink(target, at, 'dir')
  }
  const installed = join(modules, '@kafka-sidecar', 'client')
  await mkdir(installed, { recursive: true })
  await cp(join(packageDir, 'package.json'), join(installed, 'package.json'))
  await cp(join(packageDir, 'dist'), join(installed, 'dist'), { recursive: true })
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
  }
  for (const dependency of Object.keys(manifest.dependencies)) {
    await link(
      join(installed, 'node_modules', dependency),
      await realpath(join(packageDir, 'node_modules', dependency)),
    )
  }
  await link(join(modules, 'kafkajs'), await realpath(join(packageDir, 'node_modules', 'kafkajs')))
  if (withPromClient) {
    const promClient = await realpath(join(packageDir, 'node_modules', 'prom-client'))
    await cp(promClient, join(modules, 'prom-client'), { recursive: true, dereference: true })
    // Its own dependencies, from beside it in pnpm's store (theirs resolve from where they are).
    for (const name of ['tdigest', '@opentelemetry/api']) {
      const beside = join(promClient, '..', name)
      if (existsSync(beside)) await link(join(modules, name), await realpath(beside))
    }
  }
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, ...packageJson }))
  for (const [name, content] of Object.entries(files)) await writeFile(join(app, name), content)
  return app
}

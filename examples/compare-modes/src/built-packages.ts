/**
 * The worker processes load the workspace's packages as an application does: built (dist/), not
 * from TypeScript source.
 *
 * The comparison itself runs from source (tsx with the `@kafka-sidecar/source` condition, so
 * `pnpm compare` never runs a stale harness). Passed on to the workers, that condition put every
 * sidecar-mode record through tsx-transformed client code, where esbuild's keepNames wraps each
 * closure made per record in `__name`: 19-20 µs of worker CPU per consumed record instead of the
 * built client's (measured with compare:consumers), a cost no application pays and direct mode
 * (KafkaJS's own JavaScript) never had. The workers still run their own script through tsx.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SOURCE_CONDITION = '@kafka-sidecar/source'

/** `execArgv` without the source condition (both spellings: `--conditions=X` and `--conditions X`, `-C`). */
export function builtPackagesExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!
    if (arg === `--conditions=${SOURCE_CONDITION}` || arg === `-C=${SOURCE_CONDITION}`) continue
    if ((arg === '--conditions' || arg === '-C') && execArgv[i + 1] === SOURCE_CONDITION) {
      i++
      continue
    }
    out.push(arg)
  }
  return out
}

/** The packages the workers import, each checked to be built from its current source. */
const WORKER_PACKAGES = ['client', 'sidecar', 'embedded-kafka', 'options', 'proto']

/** Why the built packages cannot be used (missing or older than their source), or null. */
export function staleBuild(packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url))): string | null {
  for (const name of WORKER_PACKAGES) {
    const dir = join(packagesDir, name)
    if (!existsSync(join(dir, 'dist', 'index.js'))) return `packages/${name}/dist is missing`
    if (newestMtime(join(dir, 'src')) > newestMtime(join(dir, 'dist')))
      return `packages/${name}/dist is older than its src`
  }
  return null
}

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  return newest
}

/** Exits with a message naming the fix when the workers would load a stale or missing build. */
export function requireCurrentBuild(): void {
  const why = staleBuild()
  if (why === null) return
  console.error(`${why}: run \`pnpm build\` first (pnpm demo and pnpm compare do)`)
  process.exit(2)
}

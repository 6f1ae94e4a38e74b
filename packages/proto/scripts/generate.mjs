#!/usr/bin/env node
// Regenerates src/generated/ from proto/ with buf (from npm) and ts-proto, as configured in
// buf.yaml and buf.gen.yaml. Lints the .proto files first.
//
//   node scripts/generate.mjs          lint, then write src/generated/ (stale files removed)
//   node scripts/generate.mjs --check  lint, generate into a temp dir, and exit 1 if the committed
//                                      src/generated/ differs from what the generator produces now
//
// Needs nothing but Node and this package's node_modules: no protoc, no network.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)))
const generatedDir = 'src/generated' // relative to packageDir; must match `out` in buf.gen.yaml
// @bufbuild/buf's bin/buf is a Node script that runs the native binary from the platform package
// (@bufbuild/buf-linux-x64, ...) npm installed next to it; it needs no postinstall and no network.
const buf = createRequire(import.meta.url).resolve('@bufbuild/buf/bin/buf')

const args = process.argv.slice(2)
const unknown = args.filter((a) => a !== '--check')
if (unknown.length > 0) fail(`unknown argument ${unknown[0]}; usage: generate.mjs [--check]`)
const check = args.includes('--check')

runBuf(['lint'])

if (!check) {
  runBuf(['generate'])
  say(`generated ${generatedDir}/ from proto/`)
  process.exit(0)
}

const outBase = mkdtempSync(join(tmpdir(), 'kafka-sidecar-proto-'))
try {
  // `-o` moves every plugin's `out` under outBase, so the fresh copy is outBase/src/generated.
  runBuf(['generate', '-o', outBase])
  const problems = compareTrees(join(packageDir, generatedDir), join(outBase, generatedDir))
  if (problems.length > 0) {
    fail(
      [
        `${generatedDir}/ is stale: it is not what proto/ generates with the current buf.gen.yaml and ts-proto.`,
        ...problems.map((p) => `  ${p}`),
        'Run `pnpm proto:generate` (or `pnpm --filter @kafka-sidecar/proto generate`) and commit the result.',
        'Never edit files under src/generated/ by hand: change the .proto files or buf.gen.yaml instead.',
      ].join('\n'),
    )
  }
  say(`${generatedDir}/ is up to date with proto/`)
} finally {
  rmSync(outBase, { recursive: true, force: true })
}

function runBuf(bufArgs) {
  try {
    execFileSync(process.execPath, [buf, ...bufArgs], { cwd: packageDir, stdio: 'inherit' })
  } catch {
    fail(`buf ${bufArgs[0]} failed (see its output above)`)
  }
}

/** Every difference between the committed tree and the freshly generated one, as readable lines. */
function compareTrees(committedDir, freshDir) {
  const committed = listFiles(committedDir)
  const fresh = listFiles(freshDir)
  const problems = []
  for (const file of fresh) {
    if (!committed.includes(file)) problems.push(`missing: ${generatedDir}/${file}`)
  }
  for (const file of committed) {
    if (!fresh.includes(file)) {
      problems.push(`not generated from any .proto file (delete it): ${generatedDir}/${file}`)
      continue
    }
    const a = readFileSync(join(committedDir, file), 'utf8')
    const b = readFileSync(join(freshDir, file), 'utf8')
    if (a !== b) problems.push(`differs: ${generatedDir}/${file} (${firstDifference(a, b)})`)
  }
  return problems
}

function listFiles(dir) {
  let entries
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true })
  } catch (error) {
    if (error.code === 'ENOENT') return []
    throw error
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) =>
      relative(dir, join(e.parentPath ?? e.path, e.name))
        .split(sep)
        .join('/'),
    )
    .sort()
}

function firstDifference(committedText, freshText) {
  const a = committedText.split('\n')
  const b = freshText.split('\n')
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      const show = (line) => JSON.stringify(line ?? '<end of file>')
      return `first at line ${i + 1}: committed ${show(a[i])}, generated ${show(b[i])}`
    }
  }
  return 'line endings differ'
}

function say(message) {
  process.stdout.write(`proto: ${message}\n`)
}

function fail(message) {
  process.stderr.write(`proto: ${message}\n`)
  process.exit(1)
}

// Marks CommonJS build folders as such, so Node loads their .js files with require() semantics
// inside packages whose "type" is "module". Usage: node scripts/mark-commonjs.mjs <dir>...
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dirs = process.argv.slice(2)
if (dirs.length === 0) {
  console.error('usage: mark-commonjs.mjs <dir>...')
  process.exit(2)
}
for (const dir of dirs) {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n')
}

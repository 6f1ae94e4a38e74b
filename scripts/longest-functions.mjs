// Lists the longest hand-written functions (line spans, nested functions counted in their
// parents too) of the given source folders; issue 14's yardstick for functions a reader must
// hold in their head at once. Usage: node scripts/longest-functions.mjs [--top N] [dirs...]
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 15
const dirs = args.length > 0 ? args : ['packages/client/src', 'packages/sidecar/src']

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    // node_modules holds other packages (workspace links among them, which go round in circles).
    if (statSync(path).isDirectory())
      return ['generated', 'node_modules', 'dist'].includes(name) ? [] : sourceFiles(path)
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : []
  })
}

function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text
  if (ts.isConstructorDeclaration(node)) return 'constructor'
  const parent = node.parent
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  return '(anonymous)'
}

const functions = []
for (const file of dirs.flatMap(sourceFiles)) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      functions.push({ lines: end - start + 1, name: nameOf(node), at: `${relative('.', file)}:${start + 1}` })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}
functions.sort((a, b) => b.lines - a.lines)
for (const f of functions.slice(0, top)) console.log(`${String(f.lines).padStart(5)}  ${f.name}  ${f.at}`)

/**
 * Files as a pod mounts them: written into a fresh temp dir (removed when the test ends), and
 * replaced at once, as Kubernetes swaps a mounted Secret's files (a rename, so a reader never sees
 * half a file).
 */
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './temp-dir.js'

/** A file named `name` holding `content` (readable by its owner only), in a fresh temp dir. */
export async function fileWith(content: string, name = 'file'): Promise<string> {
  const path = join(await tempDir(), name)
  await writeFile(path, content, { mode: 0o600 })
  return path
}

/** Replaces the file's content at once. */
export async function replaceFile(path: string, content: string): Promise<void> {
  await writeFile(`${path}.new`, content, { mode: 0o600 })
  await rename(`${path}.new`, path)
}

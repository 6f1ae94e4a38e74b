import { randomBytes } from 'node:crypto'

/** A topic name no other test uses: tests never share a cluster's topics. */
export function randomTopic(prefix = 'topic'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}

/**
 * A first-in first-out list with O(1) removal at the front. A partition's buffer holds thousands
 * of records and gives them up from the front as they are processed: Array.prototype.shift() is
 * O(n) on large arrays, and made the buffer quadratic (44% of the sidecar's CPU in a backlog).
 */
export class RecordQueue<T> {
  private items: T[] = []
  /** Index in `items` of the first item still queued. */
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  /** The item `index` places from the front (0: the first). */
  at(index: number): T | undefined {
    return index < this.length ? this.items[this.head + index] : undefined
  }

  push(item: T): void {
    this.items.push(item)
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]!
    this.head++
    // Drops the consumed front once it is half the array, so memory follows what is queued.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Items from `start` (inclusive) to `end` (exclusive) places from the front. */
  slice(start: number, end: number): T[] {
    return this.items.slice(this.head + start, this.head + Math.min(end, this.length))
  }

  clear(): void {
    this.items = []
    this.head = 0
  }
}

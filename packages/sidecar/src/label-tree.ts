/**
 * One value per label set, found by label values through nested Maps: no key string built and
 * hashed per lookup, as prom-client does for every inc and observe. Values are kept in the order
 * their label sets were first seen (prom-client's order of series).
 */
type Level<T> = Map<string, Level<T> | T>

export class LabelTree<L extends string, T> {
  private readonly root: Level<T> = new Map()
  readonly values: T[] = []

  constructor(
    private readonly labelNames: readonly L[],
    private readonly create: (labels: Record<L, string>) => T,
  ) {
    if (labelNames.length === 0) throw new Error('a LabelTree needs at least one label name')
  }

  of(labels: Record<L, string>): T {
    const names = this.labelNames
    let level = this.root
    for (let i = 0; i < names.length - 1; i++) {
      const value = labels[names[i]!]
      let next = level.get(value) as Level<T> | undefined
      if (!next) level.set(value, (next = new Map()))
      level = next
    }
    const last = labels[names[names.length - 1]!]
    let found = level.get(last) as T | undefined
    if (found === undefined) {
      found = this.create({ ...labels })
      level.set(last, found)
      this.values.push(found)
    }
    return found
  }

  clear(): void {
    this.root.clear()
    this.values.length = 0
  }
}

/**
 * Refuses regular expressions prone to catastrophic backtracking before the sidecar runs them
 * against topic names: a pattern runs in the sidecar's one event loop, shared by every process
 * of the pod, so one bad subscription (`^(a|aa)+$`, `(a+)+`) would stall them all.
 *
 * The rule is a conservative, linear scan of the source: a repeated group (`*`, `+` or `{n,}`
 * after `)`) whose body holds a quantifier or an alternation is refused. Topic subscriptions
 * rarely need either (`^orders\.(eu|us)\..*` is fine: its group is not repeated).
 */

/** Why the pattern is refused, or null when it is accepted. */
export function backtrackingRisk(source: string): string | null {
  // One entry per open group: whether its body so far repeats or alternates.
  const groups: boolean[] = []
  let lastGroupRisky = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      i++
      lastGroupRisky = false
      continue
    }
    if (c === '[') {
      i = classEnd(source, i)
      lastGroupRisky = false
      continue
    }
    if (c === '(') {
      groups.push(false)
      // (?:, (?=, (?!, (?<=, (?<!, (?<name>: the ? is not a quantifier.
      if (source[i + 1] === '?') i++
      lastGroupRisky = false
      continue
    }
    if (c === ')') {
      lastGroupRisky = groups.pop() ?? false
      // What repeats or alternates inside a group is inside the enclosing group too.
      if (lastGroupRisky) markOpenGroup(groups)
      continue
    }
    const repeats = c === '*' || c === '+' || (c === '{' && /^\{\d*,\d*\}|^\{\d+\}/.test(source.slice(i, i + 24)))
    if (repeats && lastGroupRisky && source[i - 1] === ')')
      return `a repeated group holds a quantifier or an alternation (near character ${i}), which can backtrack catastrophically`
    if (repeats || c === '?' || c === '|') markOpenGroup(groups)
    lastGroupRisky = false
  }
  return null
}

function markOpenGroup(groups: boolean[]): void {
  if (groups.length > 0) groups[groups.length - 1] = true
}

/** The index of the `]` closing the class opened at `start` (escapes inside skipped). */
function classEnd(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++
    else if (source[i] === ']') return i
  }
  return source.length
}

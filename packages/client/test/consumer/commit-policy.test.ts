/** KafkaJS's auto-commit rules, on a clock the test moves. */
import { describe, expect, it } from 'vitest'
import { CommitPolicy, commitSettings } from '../../src/consumer/commit-policy.js'

function policyAt(settings: Parameters<typeof commitSettings>[0]) {
  let now = 1_000
  const policy = new CommitPolicy(commitSettings(settings), () => now)
  return { policy, advance: (ms: number) => void (now += ms) }
}

describe('CommitPolicy', () => {
  it('defaults as KafkaJS run(): auto-commit after every batch, nothing within one', () => {
    const { policy, advance } = policyAt({})
    advance(1_000_000)
    expect(policy.commitsAfterBatch()).toBe(true)
    expect(policy.commitsAfterMessage(1_000_000n)).toBe(false)
  })

  it('autoCommitInterval: within a batch once the interval passed since the last commit', () => {
    const { policy, advance } = policyAt({ autoCommitInterval: 500 })
    advance(499)
    expect(policy.commitsAfterMessage(1n)).toBe(false)
    advance(1)
    expect(policy.commitsAfterMessage(1n)).toBe(true)
    policy.committed()
    expect(policy.commitsAfterMessage(1n)).toBe(false)
  })

  it('autoCommitThreshold: within a batch once that many offsets are resolved and not committed', () => {
    const { policy } = policyAt({ autoCommitThreshold: 3 })
    expect(policy.commitsAfterMessage(2n)).toBe(false)
    expect(policy.commitsAfterMessage(3n)).toBe(true)
  })

  it('autoCommit off: no commit of its own, but commitOffsetsIfNecessary() still follows interval and threshold', () => {
    const { policy } = policyAt({ autoCommit: false, autoCommitThreshold: 1 })
    expect(policy.commitsAfterBatch()).toBe(false)
    expect(policy.commitsAfterMessage(5n)).toBe(false)
    expect(policy.isNecessary(5n)).toBe(true)
  })

  it('autoCommit: null turns auto-commit off, as a default parameter does in KafkaJS', () => {
    expect(commitSettings({ autoCommit: null as never }).autoCommit).toBe(false)
  })
})

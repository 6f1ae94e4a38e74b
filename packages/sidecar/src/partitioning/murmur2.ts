/**
 * Java-compatible murmur2 in 32-bit integer arithmetic. KafkaJS 2.2.4 computes the same hash with
 * its 64-bit Long (a BigInt per step) and keeps the low 32 bits; since multiplication and xor
 * modulo 2^32 depend only on the operands' low 32 bits, Math.imul gives the same value, about 10x
 * faster: KafkaJS's version was 8% of the sidecar's busy time producing keyed records. A property
 * test checks it against KafkaJS's own function.
 */
const SEED = 0x9747b28c
const M = 0x5bd1e995

export function murmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key))
  const length = data.length
  let h = SEED ^ length
  const tail = length & ~3
  for (let i = 0; i < tail; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  // The last 1-3 bytes, as Java's switch with fall-through takes them.
  const rest = length & 3
  if (rest === 3) h ^= data[tail + 2]! << 16
  if (rest >= 2) h ^= data[tail + 1]! << 8
  if (rest >= 1) h = Math.imul(h ^ data[tail]!, M)
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h | 0
}

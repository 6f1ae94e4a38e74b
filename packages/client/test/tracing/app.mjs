// An ESM application: loads MODULE (kafkajs or @kafka-sidecar/client) with import.
import program from './program.cjs'

const mod = await import(process.env.MODULE)
const result = await program.run(mod.default?.Kafka ? mod.default : mod, { brokers: process.env.BROKERS.split(','), topic: process.env.TOPIC })
console.log(JSON.stringify(result))

/** Public API of @kafka-sidecar/options. */
export { envNames, flagNames, flagParserOptions, flagUsage } from './option-table.js'
export type { OptionDeclaration, OptionTable, OptionValues } from './option-table.js'
export { layerFromCode, layerFromEnv, layerFromFlags, rejectUnknownKeys, resolveOptions } from './resolve-options.js'
export type { OptionLayer, Resolution, SourcedValue } from './resolve-options.js'

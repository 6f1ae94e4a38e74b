// The package entry point: every named export, plus the module object as the default export.
export * from './public-api.js'
export { default } from './default-export.js'

/** Injectable structured logger. The library is silent unless the caller passes one. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void

export const silentLogger: Logger = () => {}

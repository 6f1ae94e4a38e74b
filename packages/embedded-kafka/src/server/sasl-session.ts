/**
 * Where one connection stands with SASL, as Kafka's SaslServerAuthenticator keeps it: on a SASL
 * listener a connection first may send only ApiVersions and SaslHandshake, then only
 * SaslAuthenticate until its mechanism is done; anything else closes it. A refusal is answered with
 * SASL_AUTHENTICATION_FAILED and then the connection is closed. On a plaintext listener, and once
 * authenticated, the SASL requests are answered ILLEGAL_SASL_STATE, as Kafka's request handler does.
 */
import { ErrorCode } from '../protocol/error-codes.js'
import {
  SaslAuthenticationError,
  invalidCredentials,
  type SaslExchange,
  type SaslMechanism,
} from '../sasl/mechanism.js'
import type { Logger } from './logger.js'

const API_VERSIONS_KEY = 18
const SASL_HANDSHAKE_KEY = 17
const SASL_AUTHENTICATE_KEY = 36

/**
 * Kafka's `sasl.server.max.receive.size`: the largest frame read before authentication, so an
 * unauthenticated client cannot make the broker buffer `socket.request.max.bytes`.
 */
export const SASL_MAX_RECEIVE_BYTES = 524_288

export interface HandshakeAnswer {
  readonly errorCode: number
  readonly mechanisms: readonly string[]
  /** Why the connection closes after this answer (an unsupported mechanism). */
  readonly closeReason?: string
}

export interface AuthenticateAnswer {
  readonly errorCode: number
  readonly errorMessage: string | null
  readonly authBytes: Buffer
  readonly closeReason?: string
}

type State =
  | { readonly kind: 'handshake' }
  | {
      readonly kind: 'authenticate'
      readonly mechanism: string
      readonly exchange: SaslExchange
      /** After SaslHandshake v0 the SASL messages come as bare size-prefixed frames, not SaslAuthenticate. */
      readonly rawTokens: boolean
      busy: boolean
    }
  | { readonly kind: 'done'; readonly principal: string }
  | { readonly kind: 'failed' }

export class SaslSession {
  private state: State

  constructor(
    private readonly mechanisms: ReadonlyMap<string, SaslMechanism> | undefined,
    private readonly log: Logger,
  ) {
    this.state = mechanisms ? { kind: 'handshake' } : { kind: 'done', principal: 'ANONYMOUS' }
  }

  get authenticated(): boolean {
    return this.state.kind === 'done'
  }

  /** The principal Kafka would name (`User:alice`), once authenticated. */
  get principal(): string | undefined {
    return this.state.kind === 'done' ? this.state.principal : undefined
  }

  /** Whether the next frame is a bare SASL message (after SaslHandshake v0), not a request. */
  get expectsRawToken(): boolean {
    return this.state.kind === 'authenticate' && this.state.rawTokens
  }

  /** Why a request of `apiName` must close the connection now, or null when it may be answered. */
  refusal(apiKey: number, apiName: string): string | null {
    const { kind } = this.state
    if (kind === 'done') return null
    if (kind === 'failed') return `${apiName} after SASL authentication failed`
    if (kind === 'handshake') {
      if (apiKey === API_VERSIONS_KEY || apiKey === SASL_HANDSHAKE_KEY) return null
      return apiKey === SASL_AUTHENTICATE_KEY
        ? 'SaslAuthenticate before SaslHandshake'
        : `${apiName} before SASL authentication (a SASL listener first answers only ApiVersions, SaslHandshake and SaslAuthenticate)`
    }
    if (apiKey !== SASL_AUTHENTICATE_KEY)
      return `${apiName} during SASL authentication, where only SaslAuthenticate is expected`
    return this.state.busy ? 'SaslAuthenticate before the previous one was answered' : null
  }

  handshake(requested: string, version: number): HandshakeAnswer {
    const enabled = [...(this.mechanisms?.keys() ?? [])]
    if (this.state.kind !== 'handshake') return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: enabled }
    const mechanism = this.mechanisms!.get(requested)
    if (!mechanism)
      return {
        errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM,
        mechanisms: enabled,
        closeReason: `unsupported SASL mechanism ${JSON.stringify(requested)} (enabled: ${enabled.join(', ')})`,
      }
    this.state = {
      kind: 'authenticate',
      mechanism: requested,
      exchange: mechanism.start(),
      rawTokens: version === 0,
      busy: false,
    }
    return { errorCode: ErrorCode.NONE, mechanisms: enabled }
  }

  async authenticate(clientMessage: Buffer): Promise<AuthenticateAnswer> {
    const state = this.state
    if (state.kind !== 'authenticate')
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: 'SaslAuthenticate request received after successful authentication',
        authBytes: Buffer.alloc(0),
      }
    state.busy = true
    try {
      const step = await state.exchange.respond(clientMessage)
      if (step.done) {
        this.state = { kind: 'done', principal: `User:${step.principal}` }
        this.log('info', 'SASL authentication succeeded', { mechanism: state.mechanism, principal: step.principal })
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.challenge ?? Buffer.alloc(0) }
    } catch (error) {
      this.state = { kind: 'failed' }
      return this.failed(state.mechanism, error)
    } finally {
      state.busy = false
    }
  }

  private failed(mechanism: string, error: unknown): AuthenticateAnswer {
    const refusal = error instanceof SaslAuthenticationError ? error : invalidCredentials(mechanism)
    if (refusal !== error)
      this.log('error', 'SASL mechanism failed unexpectedly', {
        mechanism,
        error: error instanceof Error ? error.stack : String(error),
      })
    return {
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: refusal.message,
      authBytes: Buffer.alloc(0),
      closeReason: `SASL ${mechanism} authentication failed: ${refusal.message}`,
    }
  }
}

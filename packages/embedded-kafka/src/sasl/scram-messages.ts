/**
 * The SCRAM messages (RFC 5802 section 7) the server reads and writes, with the grammar Kafka's
 * ScramMessages accepts: no channel binding (gs2 flag `n`), an optional reserved `m=` attribute,
 * and extensions (`,key=value`) after the nonce. Anything else is a ScramParseError, never another
 * exception: these are the first bytes an unauthenticated client controls.
 */

export class ScramParseError extends Error {
  override name = 'ScramParseError'
}

// Kafka's character classes: SASLNAME is 7-bit ASCII without ',' and '=' except as =2C and =3D;
// VALUE excludes ','; PRINTABLE is %x21-7E without ','.
const SASLNAME = '(?:[\\x01-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+'
const VALUE = '[\\x01-\\x2B\\x2D-\\x7F]+'
const PRINTABLE = '[\\x21-\\x2B\\x2D-\\x7E]+'
const BASE64_CHAR = '[a-zA-Z0-9/+]'
const BASE64 = `(?:${BASE64_CHAR}{4})*(?:${BASE64_CHAR}{3}=|${BASE64_CHAR}{2}==)?`
const RESERVED = `(?:m=${VALUE},)?`
const EXTENSIONS = `(?:,[A-Za-z]+=${VALUE})*`

const CLIENT_FIRST = new RegExp(
  `^n,(?:a=(?<authzid>${SASLNAME}))?,(?<bare>${RESERVED}n=(?<saslname>${SASLNAME}),r=(?<nonce>${PRINTABLE})(?<extensions>${EXTENSIONS}))$`,
)
const CLIENT_FINAL = new RegExp(
  `^(?<withoutProof>c=(?<channel>${BASE64}),r=(?<nonce>${PRINTABLE})(?<extensions>${EXTENSIONS})),p=(?<proof>${BASE64})$`,
)

export interface ClientFirstMessage {
  /** `n,,` or `n,a=<authzid>,`: what the client-final message must echo, base64-encoded, as `c=`. */
  readonly gs2Header: string
  /** The authorization id, decoded; null when the client left it out. */
  readonly authorizationId: string | null
  readonly username: string
  readonly nonce: string
  readonly extensions: ReadonlyMap<string, string>
  /** client-first-message-bare, part of the signed AuthMessage. */
  readonly bare: string
}

export interface ClientFinalMessage {
  /** The base64 of the gs2 header, as sent. */
  readonly channelBinding: string
  readonly nonce: string
  readonly proof: Buffer
  /** client-final-message-without-proof, part of the signed AuthMessage. */
  readonly withoutProof: string
}

/** A saslname as written on the wire: ',' and '=' escaped as =2C and =3D. */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

export function decodeSaslName(name: string): string {
  return name.replace(/=2C|=3D/g, (escape) => (escape === '=2C' ? ',' : '='))
}

function asciiText(message: Buffer): string {
  // The grammar is 7-bit; a byte above it can only fail to match, so latin1 keeps it one character.
  return message.toString('latin1')
}

function parseExtensions(text: string): Map<string, string> {
  const extensions = new Map<string, string>()
  for (const pair of text.split(',').slice(1)) {
    const at = pair.indexOf('=')
    extensions.set(pair.slice(0, at), pair.slice(at + 1))
  }
  return extensions
}

export function parseClientFirst(message: Buffer): ClientFirstMessage {
  const text = asciiText(message)
  const match = CLIENT_FIRST.exec(text)
  if (!match?.groups) throw new ScramParseError('Invalid SCRAM client first message format')
  const { authzid, bare, saslname, nonce, extensions } = match.groups as Record<string, string | undefined>
  return {
    gs2Header: text.slice(0, text.length - bare!.length),
    authorizationId: authzid === undefined ? null : decodeSaslName(authzid),
    username: decodeSaslName(saslname!),
    nonce: nonce!,
    extensions: parseExtensions(extensions ?? ''),
    bare: bare!,
  }
}

export function parseClientFinal(message: Buffer): ClientFinalMessage {
  const match = CLIENT_FINAL.exec(asciiText(message))
  if (!match?.groups) throw new ScramParseError('Invalid SCRAM client final message format')
  const { withoutProof, channel, nonce, proof } = match.groups as Record<string, string>
  return { channelBinding: channel!, nonce: nonce!, proof: Buffer.from(proof!, 'base64'), withoutProof: withoutProof! }
}

export function serverFirstMessage(nonce: string, salt: Buffer, iterations: number): string {
  return `r=${nonce},s=${salt.toString('base64')},i=${iterations}`
}

export function serverFinalMessage(serverSignature: Buffer): string {
  return `v=${serverSignature.toString('base64')}`
}

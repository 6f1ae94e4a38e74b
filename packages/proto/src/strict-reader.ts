/**
 * Protobuf strings must be UTF-8, but the generated decoders read them with a forgiving decoder
 * that turns bad bytes into U+FFFD, so a header name or client id that is not UTF-8 would pass
 * as a different string. Decoding from a strict reader makes such bytes a decode error instead:
 * `EmitRequest.decode(strictReader(bytes))`. ASCII strings take the reader's fast path as before.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire'

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeUtf8Strictly(bytes: Uint8Array): string {
  try {
    return fatalDecoder.decode(bytes)
  } catch {
    throw new Error('a string field is not valid UTF-8')
  }
}

export function strictReader(bytes: Uint8Array): BinaryReader {
  return new BinaryReader(bytes, decodeUtf8Strictly)
}

export { BinaryReader }

/**
 * A unary call carries exactly one request message. When it carries none (the stream ended
 * inside a message: truncated) or two, grpc-js answers UNIMPLEMENTED "Received no request
 * message ..." / "Received a second request message ...", which reads like a missing method.
 * The client sent a bad request, so this interceptor answers INVALID_ARGUMENT and says what was
 * wrong. Every other status passes through untouched, and client-streaming calls (EmitStream),
 * which take any number of messages, get a pass-through.
 */
import { ResponderBuilder, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js'

const NO_MESSAGE = /^Received no request message for server streaming method /
const SECOND_MESSAGE = /^Received a second request message for server streaming method /

export const unaryMessageCountInterceptor: ServerInterceptor = (method, call) => {
  if (method.requestStream) return new ServerInterceptingCall(call)
  const responder = new ResponderBuilder()
    .withSendStatus((sent, next) => {
      if (sent.code === status.UNIMPLEMENTED && NO_MESSAGE.test(sent.details)) {
        return next({
          ...sent,
          code: status.INVALID_ARGUMENT,
          details: `${method.path} needs one request message and the call ended without a whole one (truncated, or none sent)`,
        })
      }
      if (sent.code === status.UNIMPLEMENTED && SECOND_MESSAGE.test(sent.details)) {
        return next({
          ...sent,
          code: status.INVALID_ARGUMENT,
          details: `${method.path} takes exactly one request message; the call sent a second`,
        })
      }
      next(sent)
    })
    .build()
  return new ServerInterceptingCall(call, responder)
}

import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IncomingMessage } from 'node:http';

/** Longest request id taken from a client's `X-Request-Id`; a longer or odd one is replaced by ours. */
const MAX_REQUEST_ID = 128;

/** Fastify's `genReqId`: the caller's `X-Request-Id` (a proxy's, so its log and ours join up) when sane, else a UUID. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  if (typeof given === 'string' && given.length <= MAX_REQUEST_ID && /^[\w.:-]+$/.test(given)) return given;
  return randomUUID();
}

/**
 * Every log line of a request carries its id (Fastify's `reqId`) and, on the routes of one session,
 * the `session`: a person grepping one session's logs sees its requests beside its engine's lines
 * (whose logger is a child with `session` too). The id is echoed as `X-Request-Id`.
 */
export function registerRequestLogging(server: FastifyInstance): void {
  // Callback style: no promise per request on the hot read path.
  server.addHook('onRequest', (request, reply, done) => {
    const session = (request.params as Record<string, unknown> | undefined)?.['session'];
    // Added to the request's own child logger (Fastify makes one per request, for its reqId) rather
    // than a child of it: a pino child per request costs more than the rest of a presence read's hooks.
    if (typeof session === 'string' && session !== '') {
      const log: FastifyBaseLogger & { setBindings?: unknown } = request.log;
      if (typeof log.setBindings === 'function') (log as FastifyBaseLogger & Pick<Logger, 'setBindings'>).setBindings({ session });
      else request.log = request.log.child({ session });
    }
    void reply.header('x-request-id', request.id);
    done();
  });
}

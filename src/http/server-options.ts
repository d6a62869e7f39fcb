import type { ServerOptions } from 'node:http';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import type { FastifyInstance } from 'fastify';
import type { HttpLimits } from '../config.js';
import { AppError } from '../errors.js';
import { addKeywords } from './keywords.js';

/** Largest request body (Fastify's default, stated here so the README and the 413 can say it). */
export const BODY_LIMIT_BYTES = 1_048_576;

/**
 * Request validators: query strings, params and headers are text, so their schemas convert
 * (`?all=true` is a boolean); a JSON body already has types, and converting them would create a
 * session named "12" from `{"name": 12}`, so bodies are validated as sent. Both know our keywords.
 */
const buildValidator: ValidatorFactory = (externalSchemas, options) => {
  const factory = AjvCompiler();
  const customOptions = options !== undefined && options.mode !== 'JTD' ? options.customOptions : undefined;
  const plugins = [...(options?.plugins ?? []), addKeywords];
  const converting = factory(externalSchemas, { plugins, customOptions: { ...customOptions } });
  const strict = factory(externalSchemas, { plugins, customOptions: { ...customOptions, coerceTypes: false } });
  return (route) => (route.httpPart === 'body' ? strict(route) : converting(route));
};

export interface HttpServerOptions {
  readonly requestTimeout: number;
  readonly connectionTimeout: number;
  readonly keepAliveTimeout: number;
  readonly bodyLimit: number;
  readonly http: ServerOptions;
  readonly schemaController: { readonly compilersFactory: { readonly buildValidator: ValidatorFactory } };
}

/**
 * The Fastify options that bound what a client can hold: a request's headers and body must arrive
 * within `requestTimeoutMs` (Node answers 408 and closes), a silent connection is closed after
 * `idleTimeoutMs`, an idle keep-alive one after `keepAliveTimeoutMs`; and the validators above.
 */
export function httpServerOptions(limits: HttpLimits): HttpServerOptions {
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    bodyLimit: BODY_LIMIT_BYTES,
    http: {
      // Node refuses a headers timeout above the request timeout; the headers are part of the request.
      headersTimeout: limits.requestTimeoutMs,
      // Node checks those two timeouts on this interval (30 s by default), so a 30 s limit could
      // hold a connection for a minute: check often enough that the limit is the limit, within 25 %.
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(limits.requestTimeoutMs / 4))),
    },
    schemaController: { compilersFactory: { buildValidator } },
  };
}

const SEND_JSON = 'send the body as JSON with Content-Type: application/json';

/**
 * Body parsing: JSON only. A POST without a body works whatever its Content-Type says (axios sends
 * `application/x-www-form-urlencoded` with an empty body to subscribe, start, stop, …; WAHA clients
 * send `application/json` with an empty body too). A body in any other type is refused with a 415
 * saying to send JSON: no route takes a form, and parsing one would give every value as a string.
 */
export function registerBodyParsing(server: FastifyInstance): void {
  const parseJson = server.getDefaultJsonParser('error', 'error');
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    // Fastify's default JSON parser is synchronous and reports through `done`.
    void parseJson(request, text, done);
  });
  server.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    const type = request.headers['content-type'];
    const what = type === undefined ? 'a body without a Content-Type' : `Content-Type ${type}`;
    done(new AppError('UNSUPPORTED_MEDIA_TYPE', `${what} is not accepted: ${SEND_JSON}`), undefined);
  });
}

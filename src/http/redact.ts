import type { Logger } from 'pino';

export const REDACTED = '[redacted]';

/** Any query parameter whose name holds "key" (`x-api-key`, `key`, `apiKey`, `hmac_key`, …). */
const KEY_PARAM = /([?&;][^=&#;]*key[^=&#;]*=)[^&#;\s"]*/gi;
/** A field whose name says it holds a key or a credential. */
const KEY_FIELD = /^(x-api-key|api[-_]?key|authorization|cookie)$/i;

/** `url` with the value of every key-like query parameter replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(KEY_PARAM, `$1${REDACTED}`);
}

function redactValue(name: string, value: unknown, depth: number): unknown {
  if (KEY_FIELD.test(name)) return REDACTED;
  if (typeof value === 'string') return redactUrl(value);
  if (depth > 0 && isPlainObject(value)) return redactFields(value, depth - 1);
  return value;
}

/** Only plain objects are copied: a request or an error keeps its class for its serializer. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

interface LoggedRequest {
  readonly method?: unknown;
  readonly url?: unknown;
  readonly id?: unknown;
}

/** Fastify's request log (`{req}`, at debug when request logging is on): method and URL, the key taken out. */
function serializeRequest(req: LoggedRequest): Record<string, unknown> {
  return { method: req.method, url: typeof req.url === 'string' ? redactUrl(req.url) : req.url, id: req.id };
}

function redactFields(fields: Readonly<Record<string, unknown>>, depth: number): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, redactValue(name, value, depth)]));
}

/**
 * The HTTP area's logger: every line it (and each request's child, Fastify's included) writes has
 * the API key taken out, whether as the X-Api-Key header, a `?x-api-key=` or any other `…key=` in a
 * URL, in the line's fields and two levels into them (`req.headers`, `req.url`). Message strings
 * are ours and carry no URL.
 */
export function redactingLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: { req: serializeRequest }, formatters: { log: (fields) => redactFields(fields as Record<string, unknown>, 2) } });
}

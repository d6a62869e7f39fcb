import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { SettingsStore } from '../storage/settings.js';
import { dashboardCookieAuth } from './cookie-auth.js';
import { errorBody } from './errors.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

export const API_KEY_SETTING = 'api_key';

/**
 * The key every request must carry. A configured `WHATSAPP_API_KEY` wins; without one, a key is
 * generated at the first start, stored (so it survives restarts) and logged once, at that start only.
 */
export async function resolveApiKey(configured: string | null, settings: SettingsStore, logger: Logger): Promise<string> {
  if (configured !== null) return configured;
  const candidate = randomBytes(24).toString('base64url');
  const stored = await settings.setIfAbsent(API_KEY_SETTING, candidate);
  if (stored === candidate) {
    logger.warn(
      { apiKey: stored },
      'WHATSAPP_API_KEY is not set: generated this API key and stored it. Send it as the X-Api-Key header. It is printed only this once.',
    );
  }
  return stored;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Keys presented lately and their digests: a client sends the same key on every request. */
const PRESENTED_DIGESTS = 16;

/**
 * A digest of each presented key, hashed once and then kept in a small bounded map, so that the
 * constant-time comparison of digests (which hides the key's length too) does not hash the key on
 * every request. A flood of wrong keys only evicts entries: each costs one hash, as without it.
 * The map holds presented keys, never logged, in this process only.
 */
function digestsOfPresented(): (presented: string) => Buffer {
  const digests = new Map<string, Buffer>();
  return (presented) => {
    const known = digests.get(presented);
    if (known !== undefined) return known;
    const computed = digest(presented);
    if (digests.size >= PRESENTED_DIGESTS) {
      const oldest = digests.keys().next();
      if (oldest.done !== true) digests.delete(oldest.value);
    }
    digests.set(presented, computed);
    return computed;
  };
}

/** Paths from WHATSAPP_API_KEY_EXCLUDE_PATH, with or without a leading slash. */
function normalisePath(path: string): string {
  return `/${path.replace(/^\/+/, '').replace(/\/+$/, '')}`;
}

/** The one route where the key may come in the query: a browser cannot set headers on a WebSocket. */
export const QUERY_KEY_ROUTES: ReadonlySet<string> = new Set(['/ws']);

function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  // Prometheus' scrape config (and most HTTP tooling) sends a key as a bearer token.
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (bearer?.[1] !== undefined) return bearer[1];
  // Only there: elsewhere a key in the URL ends up in proxies' logs and browser history for nothing,
  // since every other client can send the header.
  if (!QUERY_KEY_ROUTES.has(request.routeOptions.url ?? '')) return null;
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.['x-api-key'];
  return typeof fromQuery === 'string' ? fromQuery : null;
}

/**
 * Adds the API key check to every route of `scope` (health and the docs live outside it), except
 * the excluded paths. Keys are compared in constant time.
 */
export function requireApiKey(scope: FastifyInstance, key: string, excludePaths: readonly string[], clock: Pick<Clock, 'now'> = systemClock): void {
  const expected = digest(key);
  const digestOf = digestsOfPresented();
  const excluded = new Set(excludePaths.map(normalisePath));
  async function refuseOrCookie(request: FastifyRequest, reply: FastifyReply, presented: string | null): Promise<void> {
    if (presented === null && (await dashboardCookieAuth(request, reply, key, clock.now())) !== 'absent') return;
    const message = presented === null ? 'missing API key: send it in the X-Api-Key header' : 'wrong API key in X-Api-Key';
    await reply.code(401).send(errorBody(new AppError('UNAUTHORIZED', message)));
  }
  // The right key, the common case, passes synchronously (no promise per request); only a missing
  // or wrong one takes the async path (the dashboard cookie, the 401).
  scope.addHook('onRequest', (request, reply, done) => {
    if (excluded.size > 0 && excluded.has(normalisePath(request.url.split('?')[0] ?? ''))) {
      done();
      return;
    }
    const presented = presentedKey(request);
    if (presented !== null && timingSafeEqual(digestOf(presented), expected)) {
      done();
      return;
    }
    refuseOrCookie(request, reply, presented).then(
      () => {
        if (!reply.sent) done();
      },
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

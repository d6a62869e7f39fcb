import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { errorBody } from './errors.js';

/**
 * The dashboard's sign-in cookie: a browser signs in once with the API key (POST /dashboard/session)
 * and then sends this HttpOnly, SameSite=Strict cookie instead of the key, so the key never sits in
 * localStorage or in a URL. The cookie holds no key: it is `v1.<expiry>.<origin>.<mac>`, an HMAC
 * keyed by a hash of the API key over the expiry and the origin of the page that signed in. So
 * every server sharing the key accepts it (several servers, forwarding), changing the key signs
 * every browser out, and a request from any other origin is refused even when the cookie rides
 * along (same-site pages on another port get SameSite cookies too).
 */
export const DASHBOARD_COOKIE = 'wa_presence_dashboard';

/** How long a sign-in lasts. */
export const DASHBOARD_COOKIE_TTL_MS = 12 * 60 * 60 * 1000;

function macKey(apiKey: string): Buffer {
  return createHash('sha256').update(`wa-presence dashboard cookie\u0000${apiKey}`).digest();
}

function mac(apiKey: string, expiresAt: number, origin: string): string {
  return createHmac('sha256', macKey(apiKey)).update(`v1\u0000${expiresAt}\u0000${origin}`).digest('base64url');
}

/** The cookie value for a browser at `origin`, valid until `now + DASHBOARD_COOKIE_TTL_MS`. */
export function mintDashboardToken(apiKey: string, origin: string, now: number): string {
  const expiresAt = now + DASHBOARD_COOKIE_TTL_MS;
  return `v1.${expiresAt}.${Buffer.from(origin).toString('base64url')}.${mac(apiKey, expiresAt, origin)}`;
}

export type TokenCheck = { readonly ok: true; readonly origin: string } | { readonly ok: false; readonly reason: string };

/** Checks a cookie value's signature and expiry; `origin` is the page origin it was minted for. */
export function checkDashboardToken(apiKey: string, token: string, now: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return { ok: false, reason: 'the dashboard cookie is malformed: sign in again' };
  const expiresAt = Number(parts[1]);
  const origin = Buffer.from(parts[2] ?? '', 'base64url').toString();
  const expected = Buffer.from(mac(apiKey, expiresAt, origin));
  const presented = Buffer.from(parts[3] ?? '');
  if (!Number.isSafeInteger(expiresAt) || presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
    return { ok: false, reason: 'the dashboard cookie is not valid for this API key: sign in again' };
  }
  if (expiresAt <= now) return { ok: false, reason: 'the dashboard sign-in expired: sign in again' };
  return { ok: true, origin };
}

/** The value of one cookie in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request without an API key is let in by the dashboard cookie. `absent`: no cookie, the
 * caller answers as for a missing key. `accepted`: go on. `refused`: a 401 saying why has been sent.
 * The Origin must be the signed one; it may be missing only on a safe method (a browser sends it
 * on every cross-origin request, on every POST and on every WebSocket handshake).
 */
export async function dashboardCookieAuth(request: FastifyRequest, reply: FastifyReply, apiKey: string, now: number): Promise<'absent' | 'accepted' | 'refused'> {
  const token = readCookie(request.headers.cookie, DASHBOARD_COOKIE);
  if (token === null) return 'absent';
  const checked = checkDashboardToken(apiKey, token, now);
  let reason: string | null = checked.ok ? null : checked.reason;
  if (checked.ok) {
    const origin = request.headers.origin;
    const isWebSocket = request.headers.upgrade?.toLowerCase() === 'websocket';
    if (origin === undefined ? isWebSocket || !SAFE_METHODS.has(request.method) : origin !== checked.origin) {
      reason = `the dashboard cookie is only accepted from ${checked.origin}, this request comes from ${origin ?? 'no origin'}`;
    }
  }
  if (reason === null) return 'accepted';
  await reply.code(401).send(errorBody(new AppError('UNAUTHORIZED', reason)));
  return 'refused';
}

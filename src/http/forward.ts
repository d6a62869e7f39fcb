import type { FastifyInstance, FastifyRequest } from 'fastify';
import { request as send } from 'undici';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Answered by whichever server receives it, never forwarded: reads of shared data (presence
     * history), whose exports must stream instead of being buffered by the forwarding hop.
     */
    answerLocally?: boolean;
  }
}

/** Set on a forwarded request: the receiving server answers it itself, so a request never loops. */
export const FORWARDED_HEADER = 'x-wa-presence-forwarded-by';

/** Where a session runs, when several servers share the sessions. */
export interface SessionLocator {
  /** This server's id. */
  readonly self: string;
  /** The live server that holds the session's lease (id and base URL), or null when none does. */
  ownerOf(session: string): Promise<{ readonly id: string; readonly url: string } | null>;
  /** Where a session that nobody runs should start (the least-loaded live server), or null for here. */
  placeOf?(): Promise<{ readonly id: string; readonly url: string } | null>;
}

export interface ForwardOptions {
  readonly locator: SessionLocator;
  /** Per forwarded request; a server that does not answer in this time is reported as unreachable. */
  readonly timeoutMs?: number;
}

/** Request headers passed on to the owner; everything else (host, length, hop-by-hop) is rebuilt. */
// cookie + origin: a dashboard request signed in by cookie (src/http/cookie-auth.ts) is checked again by the owner.
const PASSED_HEADERS = ['x-api-key', 'content-type', 'accept', 'authorization', 'cookie', 'origin'];
/** Response headers passed back to the client. */
const RETURNED_HEADERS = ['content-type', 'retry-after'];

/** The session a request is about: the `:session` path parameter, or `session` in the body (startTyping, …). */
function sessionOf(request: FastifyRequest): string | null {
  const params = request.params as Record<string, unknown> | undefined;
  if (typeof params?.session === 'string') return params.session;
  const body = request.body as Record<string, unknown> | null | undefined;
  if (body !== null && typeof body === 'object' && typeof body.session === 'string') return body.session;
  return null;
}

/**
 * A request that starts a session nobody runs: a create (unless `start: false`) or a start. It goes
 * to the server placement chooses, so sessions spread whichever server the client talks to.
 */
function startsSession(request: FastifyRequest): 'create' | 'start' | null {
  if (request.method !== 'POST') return null;
  const route = request.routeOptions.url;
  if (route === '/api/sessions/:session/start') return 'start';
  if (route !== '/api/sessions') return null;
  const body = request.body as Record<string, unknown> | null | undefined;
  return body !== null && typeof body === 'object' && body.start === false ? null : 'create';
}

/** The name a create asks for (absent: the server generates one). */
function createdName(request: FastifyRequest): string | null {
  const body = request.body as Record<string, unknown> | null | undefined;
  return body !== null && typeof body === 'object' && typeof body.name === 'string' ? body.name : null;
}

/**
 * Any server answers any request: a request about a session that another live server runs is
 * sent on to that server (with the client's API key and a hop header), and its status, headers
 * and body come back unchanged, so the client cannot tell the difference. Requests about sessions
 * run here or by nobody are answered locally. Register inside the API-key scope: only
 * authenticated requests are forwarded.
 */
export function registerForwarding(scope: FastifyInstance, options: ForwardOptions): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  scope.addHook('preHandler', async (request, reply) => {
    if (request.headers[FORWARDED_HEADER] !== undefined) return;
    if (request.routeOptions.config.answerLocally === true) return;
    const starting = startsSession(request);
    const session = starting === 'create' ? createdName(request) : sessionOf(request);
    if (session === null && starting === null) return;
    let owner = session === null ? null : await options.locator.ownerOf(session);
    const placed = owner === null && starting !== null && options.locator.placeOf !== undefined;
    if (placed) owner = (await options.locator.placeOf?.()) ?? null;
    if (owner === null || owner.id === options.locator.self) return;

    const headers: Record<string, string> = { [FORWARDED_HEADER]: options.locator.self };
    for (const name of PASSED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const hasBody = request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD';
    if (hasBody) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await send(new URL(request.url, owner.url), {
        method: request.method as 'GET',
        headers,
        ...(hasBody ? { body: JSON.stringify(request.body) } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (cause) {
      // The server placement chose did not answer: the session starts here instead.
      if (placed) {
        request.log.warn({ session, server: owner.id, err: cause }, 'placement chose a server that did not answer; starting the session here');
        return;
      }
      throw new AppError(
        'SESSION_OWNED_ELSEWHERE',
        `session "${session}" runs on server "${owner.id}", which did not answer (${cause instanceof Error ? cause.message : String(cause)}); retry in a few seconds`,
        { session: session ?? '', server: owner.id },
        { cause },
      );
    }
    const body = Buffer.from(await response.body.arrayBuffer());
    request.log.debug({ session, server: owner.id, statusCode: response.statusCode }, 'request forwarded to the session owner');
    for (const name of RETURNED_HEADERS) {
      const value = response.headers[name];
      if (typeof value === 'string') reply.header(name, value);
    }
    // A Buffer is sent as is: the owner already serialised it against the same response schema.
    return reply.code(response.statusCode).send(body);
  });
}

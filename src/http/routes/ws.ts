import websocket from '@fastify/websocket';
import type { WebsocketPluginOptions } from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Hub, HubFilter } from '../../events/hub.js';
import { EVENT_NAMES, isEventName } from '../../presence/events.js';
import { isValidSessionName } from '../../presence/sessions.js';
import { routeUpgrades } from '../upgrades.js';

const WS_PATH = '/ws';

/** Bad query parameters (an HTTP 400 as a WebSocket close code, in the application range). */
export const CLOSE_BAD_PARAMS = 4400;

/** Requests whose connection has logged a client error already: one line per connection, whatever the client sends. */
const loggedClients = new WeakSet<FastifyRequest>();

/**
 * What a client does wrong on an open WebSocket (a malformed or oversized frame, a dropped
 * connection) is the client's problem, not a server error: one warn line per connection, without a
 * stack, so a client cannot flood the log; `ws` has closed the connection already, this ends it.
 */
function onClientError(error: Error, socket: WebSocket, request: FastifyRequest): void {
  if (!loggedClients.has(request)) {
    loggedClients.add(request);
    const code = (error as { code?: unknown }).code;
    request.log.warn({ error: error.message, ...(typeof code === 'string' ? { code } : {}) }, 'websocket client error; connection closed');
  }
  socket.terminate();
}

/**
 * Options of @fastify/websocket: client messages are ignored by our routes, so a small frame limit
 * keeps a client from making us buffer.
 */
const WEBSOCKET_OPTIONS: WebsocketPluginOptions = { options: { maxPayload: 4096 }, errorHandler: onClientError };

export interface WsRouteOptions {
  readonly hub: Hub;
  /** A ping every this many ms; a client that has not answered the previous one is dropped. */
  readonly heartbeatMs?: number;
}

export type WsQuery = { ok: true; filter: HubFilter } | { ok: false; reason: string };

/** `session=<name|*>&events=<name,name|*>` (or `events=a&events=b`, as WAHA): both default to `*`. The reason fits a close frame (≤ 123 bytes). */
export function parseWsQuery(query: Readonly<Record<string, unknown>>): WsQuery {
  const session = query.session ?? '*';
  const events = query.events ?? '*';
  if (typeof session !== 'string' || (session !== '*' && !isValidSessionName(session))) {
    return { ok: false, reason: 'session must be a session name (letters, digits, _ or -) or *' };
  }
  // WAHA's clients repeat the parameter (`events=a&events=b`); ours may send one comma-separated list.
  const lists = Array.isArray(events) ? events : [events];
  if (!lists.every((list): list is string => typeof list === 'string')) return { ok: false, reason: 'events must be event names: a comma-separated list, repeated events=, or *' };
  const names = lists
    .join(',')
    .split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) return { ok: false, reason: 'events must list event names or be *' };
  const unknown = names.find((name) => name !== '*' && !isEventName(name));
  if (unknown !== undefined) {
    const reason = `unknown event "${unknown}"; known: ${EVENT_NAMES.join(', ')} or *`;
    return { ok: false, reason: Buffer.byteLength(reason) <= 123 ? reason : `unknown event; known: ${EVENT_NAMES.join(', ')} or *` };
  }
  return { ok: true, filter: { session, events: names.includes('*') ? ['*'] : names } };
}

/**
 * `GET /ws?session=<name|*>&events=<list|*>`: the same envelopes as the webhooks, live. Register it
 * inside the API-key scope (the key may come as `?x-api-key=`, since browsers cannot set headers
 * on a WebSocket). Bad parameters close the socket with 4400 and a reason saying what to fix.
 */
export function wsRoutes(options: WsRouteOptions): (scope: FastifyInstance) => Promise<void> {
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  return async (scope) => {
    const path = `${scope.prefix}${WS_PATH}`;
    const upgrades = routeUpgrades(scope, path);
    // A scope of its own: the plugin's hooks and handler wrapper are on this route only.
    await scope.register(async (child) => {
      await child.register(websocket, { ...WEBSOCKET_OPTIONS, options: { ...WEBSOCKET_OPTIONS.options, server: upgrades } });
      // The plugin destroys the socket of an upgrade answered with plain HTTP only when its own
      // onRequest hook ran; the API key check above it answers a refused client first (its 401),
      // and the raw socket, outside the HTTP server's bookkeeping, would stay open for ever.
      child.addHook('onResponse', (request, _reply, done) => {
        if (request.headers.upgrade?.toLowerCase() === 'websocket') request.raw.socket.destroy();
        done();
      });
      registerWsRoute(child, options.hub, heartbeatMs);
    });
  };
}

function registerWsRoute(scope: FastifyInstance, hub: Hub, heartbeatMs: number): void {
  scope.get(WS_PATH, { websocket: true, schema: { hide: true } }, (socket: WebSocket, request) => {
    const parsed = parseWsQuery(request.query as Record<string, unknown>);
    if (!parsed.ok) {
      socket.close(CLOSE_BAD_PARAMS, parsed.reason);
      return;
    }
    const unsubscribe = hub.subscribe(parsed.filter, socket);
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const heartbeat = setInterval(() => {
      if (!alive) {
        // No pong since the last ping: the peer is gone without a close frame (network cut).
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, heartbeatMs);
    socket.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}

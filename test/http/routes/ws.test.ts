import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Hub } from '../../../src/events/hub.js';
import { createHub } from '../../../src/events/hub.js';
import { requireApiKey } from '../../../src/http/api-key.js';
import { registerErrorHandling } from '../../../src/http/errors.js';
import { CLOSE_BAD_PARAMS, parseWsQuery, wsRoutes } from '../../../src/http/routes/ws.js';

const KEY = 'test-key';
let hub: Hub;
let base: string;
const teardown: (() => Promise<void>)[] = [];

beforeEach(async () => {
  hub = createHub({ maxBufferedBytes: 1024 * 1024 });
  const server = Fastify();
  teardown.push(() => server.close());
  registerErrorHandling(server);
  const register = wsRoutes({ hub, heartbeatMs: 50 });
  await server.register(async (scope) => {
    requireApiKey(scope, KEY, []);
    await register(scope);
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  base = `ws://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

/** A connected client that records every message; fails the test on an unexpected close. */
async function connect(query: string, headers: Record<string, string> = {}): Promise<{ socket: WebSocket; messages: unknown[]; next: (n: number) => Promise<void> }> {
  const socket = new WebSocket(`${base}/ws?${query}`, { headers });
  teardown.push(async () => {
    if (socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.terminate();
    await closed;
  });
  const messages: unknown[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data: Buffer) => {
    messages.push(JSON.parse(data.toString('utf8')));
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    next: async (n) => {
      while (messages.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString('utf8') })));
}

/** Resolves with the HTTP status when the server refuses the upgrade. */
function refusal(query: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base}/ws?${query}`, { headers });
    // Terminating a refused socket reports "closed before the connection was established": expected.
    socket.on('error', () => undefined);
    socket.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      request.destroy();
    });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the upgrade was accepted'));
    });
  });
}

function publish(session: string, event: string): void {
  hub.publish(session, event, JSON.stringify({ session, event }));
}

describe('GET /ws', () => {
  it('streams only the sessions and events a client asked for', async () => {
    const alicePresence = await connect(`session=alice&events=presence.update&x-api-key=${KEY}`);
    const everything = await connect('session=*&events=*', { 'x-api-key': KEY });
    const statusOnly = await connect(`events=session.status&x-api-key=${KEY}`);
    // WAHA's clients repeat the parameter.
    const repeated = await connect(`session=alice&events=session.status&events=presence.update&x-api-key=${KEY}`);
    expect(hub.size()).toBe(4);
    publish('bob', 'presence.update');
    publish('alice', 'session.status');
    publish('alice', 'presence.update');
    await everything.next(3);
    await alicePresence.next(1);
    await statusOnly.next(1);
    await repeated.next(2);
    expect(repeated.messages).toEqual([
      { session: 'alice', event: 'session.status' },
      { session: 'alice', event: 'presence.update' },
    ]);
    expect(everything.messages).toEqual([
      { session: 'bob', event: 'presence.update' },
      { session: 'alice', event: 'session.status' },
      { session: 'alice', event: 'presence.update' },
    ]);
    expect(alicePresence.messages).toEqual([{ session: 'alice', event: 'presence.update' }]);
    expect(statusOnly.messages).toEqual([{ session: 'alice', event: 'session.status' }]);
  });

  it('refuses a missing or wrong API key before the upgrade', async () => {
    expect(await refusal('session=*')).toBe(401);
    expect(await refusal('session=*&x-api-key=nope')).toBe(401);
    expect(await refusal('session=*', { 'x-api-key': 'nope' })).toBe(401);
    expect(hub.size()).toBe(0);
  });

  it.each([
    ['session=bad%20name', /session must be a session name/],
    ['events=presence.updates', /unknown event "presence.updates"; known: presence.update, session.status or \*/],
    ['events=', /events must list event names or be \*/],
    ['events=session.status&events=nope', /unknown event "nope"/],
  ])('closes with 4400 and a reason on bad parameters: %s', async (query, reason) => {
    const client = await connect(`${query}&x-api-key=${KEY}`);
    const closed = await closeOf(client.socket);
    expect(closed.code).toBe(CLOSE_BAD_PARAMS);
    expect(closed.reason).toMatch(reason);
    expect(hub.size()).toBe(0);
  });

  it('pings clients and unsubscribes them when they leave', async () => {
    const client = await connect(`x-api-key=${KEY}`);
    await new Promise<void>((resolve) => client.socket.once('ping', () => resolve()));
    const gone = new Promise<void>((resolve) => client.socket.once('close', () => resolve()));
    client.socket.close(1000, 'bye');
    await gone;
    // The server's close handler runs once it has seen the close frame.
    while (hub.size() !== 0) await new Promise((resolve) => setImmediate(resolve));
    expect(hub.size()).toBe(0);
  });
});

describe('parseWsQuery', () => {
  it('defaults both filters to *, and * wins inside a list', () => {
    expect(parseWsQuery({})).toEqual({ ok: true, filter: { session: '*', events: ['*'] } });
    expect(parseWsQuery({ session: 'a', events: 'presence.update,*' })).toEqual({ ok: true, filter: { session: 'a', events: ['*'] } });
    expect(parseWsQuery({ events: ' presence.update , session.status ' })).toEqual({
      ok: true,
      filter: { session: '*', events: ['presence.update', 'session.status'] },
    });
  });
  it('keeps every reason within a close frame (123 bytes)', () => {
    const result = parseWsQuery({ events: 'x'.repeat(500) });
    expect(result.ok).toBe(false);
    expect(!result.ok && Buffer.byteLength(result.reason)).toBeLessThanOrEqual(123);
  });
});

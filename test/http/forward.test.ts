import { describe, expect, it } from 'vitest';
import { FORWARDED_HEADER, registerForwarding } from '../../src/http/forward.js';
import type { SessionLocator } from '../../src/http/forward.js';
import { httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

/** Locator test double: "default" runs on the owner's URL, every other session nowhere; records lookups. */
function locatorTo(url: string | (() => string)): SessionLocator & { readonly asked: string[] } {
  const asked: string[] = [];
  return {
    self: 'front',
    asked,
    ownerOf: (session) => {
      asked.push(session);
      return Promise.resolve(session === 'default' ? { id: 'owner', url: typeof url === 'string' ? url : url() } : null);
    },
  };
}

async function owner(): Promise<{ harness: HttpHarness; url: string }> {
  const harness = await httpHarness();
  const url = await harness.server.listen({ host: '127.0.0.1', port: 0 });
  return { harness, url };
}

async function front(locator: SessionLocator): Promise<HttpHarness> {
  return httpHarness({}, {
    routes: [
      (scope) => {
        registerForwarding(scope, { locator, timeoutMs: 5000 });
        return Promise.resolve();
      },
    ],
  });
}

describe('forwarding a request to the server that runs its session', () => {
  it('answers as the owner would: same status, body and errors; other sessions stay local', async () => {
    const { harness: ownerApp, url } = await owner();
    const engine = await ownerApp.working('default');
    const locator = locatorTo(url);
    const app = await front(locator);

    const got = await app.request('GET', '/api/sessions/default');
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual((await ownerApp.request('GET', '/api/sessions/default')).json());

    const set = await app.request('POST', '/api/default/presence', { presence: 'online' });
    expect(set.statusCode).toBe(201);
    expect(engine.calls).toContainEqual({ method: 'setPresence', presence: 'online' });

    const bad = await app.request('POST', '/api/default/presence/not-a-chat/subscribe');
    const direct = await ownerApp.request('POST', '/api/default/presence/not-a-chat/subscribe');
    expect(bad.statusCode).toBe(direct.statusCode);
    expect(bad.json()).toEqual(direct.json());

    // A session nobody else runs is answered here (this front server has no such session).
    expect((await app.request('GET', '/api/sessions/other')).json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    // A forwarded request is never forwarded again (no loops).
    const hop = await app.request('GET', '/api/sessions/default', undefined, { [FORWARDED_HEADER]: 'elsewhere' });
    expect(hop.json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    // Without the API key nothing is forwarded.
    const anonymous = await app.server.inject({ method: 'GET', url: '/api/sessions/default' });
    expect(anonymous.statusCode).toBe(401);
    // Looked up for the GET, the presence and the malformed chat id (which the owner refused).
    expect(locator.asked.filter((session) => session === 'default')).toHaveLength(3);
  });

  it('answers presence history reads locally (shared database, streamed exports) and forwards its DELETE to the owner', async () => {
    const { harness: ownerApp, url } = await owner();
    await ownerApp.working('default');
    const locator = locatorTo(url);
    const app = await front(locator);
    const chat = '4915550000001@c.us';
    // The front server's own database has no session "default": a local answer says so, a forwarded one would not.
    const read = await app.request('GET', `/api/default/presence/${chat}/history`);
    expect(read.json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect((await app.request('GET', '/api/default/presence/history')).json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect(locator.asked).toEqual([]);
    const removed = await app.request('DELETE', `/api/default/presence/${chat}/history`);
    expect([removed.statusCode, removed.json()]).toEqual([200, { chatId: chat, deleted: 0 }]);
    expect(locator.asked).toEqual(['default']);
  });

  it('forwards the subscription routes (ours): the owner lists and removes from its store', async () => {
    const { harness: ownerApp, url } = await owner();
    await ownerApp.working('default');
    const app = await front(locatorTo(url));
    const chat = '4915550000001@c.us';
    expect((await app.request('POST', `/api/default/presence/${chat}/subscribe`)).statusCode).toBe(201);
    // The front server's own database has no session "default": only the owner can answer these.
    const listed = await app.request('GET', '/api/default/presence/subscriptions');
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual((await ownerApp.request('GET', '/api/default/presence/subscriptions')).json());
    expect(listed.json<{ chatId: string }[]>().map((sub) => sub.chatId)).toEqual([chat]);
    const removed = await app.request('DELETE', `/api/default/presence/${chat}/subscribe`);
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toEqual({ chatId: chat, subscribed: false, removed: true });
    expect(await ownerApp.storage.subscriptions.list('default')).toEqual([]);
  });

  it('says which server did not answer when the owner is unreachable', async () => {
    const { harness: ownerApp, url } = await owner();
    await ownerApp.server.close();
    const app = await front(locatorTo(url));
    const response = await app.request('GET', '/api/sessions/default');
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'SESSION_OWNED_ELSEWHERE', message: expect.stringContaining('"owner"') as unknown });
  });
});

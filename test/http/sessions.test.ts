import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_LOGOUT_REASON } from '../support/fake-engine.js';
import { silentLogger } from '../support/harness.js';
import { ME, httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';

describe('session routes', () => {
  // One app for the table-driven error cases, which change nothing; each other test gets its own.
  let shared: HttpHarness;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    shared = await httpHarness({}, {}, (fn) => cleanups.push(fn));
    await shared.request('POST', '/api/sessions', { name: 'existing', start: false });
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('creates, lists, gets, updates, stops, starts, restarts and deletes a session', async () => {
    const h = await httpHarness();
    const webhooks = [{ url: 'https://example.com/hook', events: ['presence.update'], hmac: { key: 'k' } }];
    const created = await h.request('POST', '/api/sessions', { name: 'one', config: { webhooks, noweb: { markOnline: false } } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      name: 'one',
      status: 'STARTING',
      config: { webhooks, noweb: { markOnline: false } },
      me: null,
      engine: { engine: 'NOWEB' },
      presence: { status: null },
      timestamps: { activity: null },
    });
    expect(h.engines.latest('one').context.config.noweb).toEqual({ markOnline: false });

    expect((await h.request('POST', '/api/sessions', { name: 'two', start: false })).json()).toMatchObject({ status: 'STOPPED' });
    expect((await h.request('GET', '/api/sessions')).json<{ name: string }[]>().map((s) => s.name)).toEqual(['one']);
    expect((await h.request('GET', '/api/sessions?all=true')).json<{ name: string }[]>().map((s) => s.name)).toEqual(['one', 'two']);

    h.engines.latest('one').working(ME);
    await h.sessions.settled('one');
    expect((await h.request('GET', '/api/sessions/one')).json()).toMatchObject({ name: 'one', status: 'WORKING', me: ME });
    expect((await h.request('GET', '/api/sessions/one/me')).json()).toEqual(ME);
    expect((await h.request('GET', '/api/sessions/two/me')).json()).toBeNull();

    const updated = await h.request('PUT', '/api/sessions/one', { config: { metadata: { team: 'sales' } } });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ config: { metadata: { team: 'sales' } }, status: 'STARTING' });
    expect(h.engines.count('one')).toBe(2);

    const stopped = await h.request('POST', '/api/sessions/one/stop');
    expect(stopped.statusCode).toBe(201);
    expect(stopped.json()).toMatchObject({ status: 'STOPPED' });
    expect((await h.request('POST', '/api/sessions/one/start')).json()).toMatchObject({ status: 'STARTING' });
    expect((await h.request('POST', '/api/sessions/one/restart')).json()).toMatchObject({ status: 'STARTING' });
    expect(h.engines.count('one')).toBe(4);

    const deleted = await h.request('DELETE', '/api/sessions/one');
    expect(deleted.statusCode).toBe(200);
    expect((await h.request('GET', '/api/sessions/one')).statusCode).toBe(404);
    expect(h.publisher.statuses('one')).toEqual(['STARTING', 'WORKING', 'STOPPED', 'STARTING', 'STOPPED', 'STARTING', 'STOPPED', 'STARTING', 'STOPPED']);
  });

  it('POST /api/sessions with no body creates and starts "default"', async () => {
    const h = shared;
    const response = await h.server.inject({ method: 'POST', url: '/api/sessions', headers: { 'x-api-key': h.apiKey } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ name: 'default', status: 'STARTING' });
  });

  it('accepts and keeps config fields WAHA clients send that a presence server does not use', async () => {
    const h = shared;
    const config = {
      proxy: { server: 'localhost:3128', username: 'u', password: 'p' },
      debug: false,
      ignore: { status: true, groups: false, channels: true, broadcast: true },
      client: { deviceName: 'CRM', browserName: 'Chrome' },
      webjs: { tagsEventsOn: false },
      gows: null,
      noweb: { markOnline: true, store: { enabled: true, fullSync: false } },
    };
    const response = await h.request('POST', '/api/sessions', { name: 'waha', start: false, config, apps: [] });
    expect(response.statusCode).toBe(201);
    // A null field is read as absent, as WAHA does (generated clients send every unset field as null).
    const { gows: _gows, ...kept } = config;
    expect(response.json<{ config: unknown }>().config).toEqual(kept);
    expect((await h.request('GET', '/api/sessions/waha')).json<{ config: unknown }>().config).toEqual(kept);
    const nullProxy = await h.request('PUT', '/api/sessions/waha', { config: { proxy: null } });
    expect(nullProxy.json<{ config: unknown }>().config).toEqual({});
  });

  it.each([
    [{ name: 'typo', strat: false }, 'strat is not a known field; remove it'],
    [{ name: 'typo', config: { webhook: [] } }, 'config.webhook is not a known field; remove it'],
    [{ name: 'typo', config: { noweb: { markOnLine: false } } }, 'config.noweb.markOnLine is not a known field; remove it'],
    [{ name: 'typo', config: { webhooks: [{ url: 'http://x', events: ['*'], hmac: { key: 'k' }, secret: 's' }] } }, 'config.webhooks[0].secret is not a known field; remove it'],
    [{ name: 'typo', config: { proxy: { server: 'x', port: 1 } } }, /^config\.proxy/],
  ] as const)('refuses an unknown field instead of dropping it: %j', async (body, message) => {
    const h = shared;
    const response = await h.request('POST', '/api/sessions', body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(response.json<{ message: string }>().message).toMatch(message);
    // Nothing was created.
    expect((await h.request('GET', '/api/sessions/typo')).statusCode).toBe(404);
  });

  it('takes config.sandbox.autoPair only on a server of the sandbox network, and hands it to the engine', async () => {
    const real = await shared.request('POST', '/api/sessions', { name: 'manual', start: false, config: { sandbox: { autoPair: false } } });
    expect(real.statusCode).toBe(400);
    expect(real.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('config.sandbox applies only') as unknown });
    expect((await shared.request('PUT', '/api/sessions/existing', { config: { sandbox: {} } })).statusCode).toBe(400);
    const h = await httpHarness({ WA_PRESENCE_SANDBOX: 'ws://127.0.0.1:1/ws' });
    const created = await h.request('POST', '/api/sessions', { name: 'manual', config: { sandbox: { autoPair: false } } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ config: { sandbox: { autoPair: false } } });
    expect(h.engines.latest('manual').context.config.sandbox).toEqual({ autoPair: false });
    expect((await h.request('POST', '/api/sessions', { name: 'typo', config: { sandbox: { autopair: false } } })).json())
      .toMatchObject({ message: 'config.sandbox.autopair is not a known field; remove it' });
  });

  it('logs out: STOPPED with why, and it stays stopped (no new QR until it is started)', async () => {
    const h = shared;
    await h.working('l');
    const response = await h.request('POST', '/api/sessions/l/logout');
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ status: 'STOPPED', me: null, reason: FAKE_LOGOUT_REASON });
    expect(h.engines.engines.filter((engine) => engine.session === 'l').map((engine) => engine.state)).toEqual(['logged-out']);
    await h.sessions.settled('l');
    expect((await h.request('GET', '/api/sessions/l')).json()).toMatchObject({ status: 'STOPPED' });
    expect((await h.request('GET', '/api/l/auth/qr?format=raw')).statusCode).toBe(422);
  });

  it.each([
    ['POST', '/api/sessions', { name: 'bad name!' }, /session name "bad name!" is not valid/],
    ['POST', '/api/sessions', { name: 'w', config: { webhooks: [{ url: 'ftp://x', events: ['*'] }] } }, /config\.webhooks\[0\]\.url must use http or https/],
    ['POST', '/api/sessions', { name: 'w', config: { webhooks: [{ url: 'not a url', events: ['*'] }] } }, /config\.webhooks\[0\]\.url must be an absolute http or https URL/],
    ['POST', '/api/sessions', { name: 'w', config: { webhooks: [{ url: 'http://x' }] } }, /^config\.webhooks\[0\]\.events is required$/],
    [
      'POST',
      '/api/sessions',
      { name: 'w', config: { webhooks: [{ url: 'http://x', events: ['*'], retries: { policy: 'random', delaySeconds: 1, attempts: 1 } }] } },
      /^config\.webhooks\[0\]\.retries/,
    ],
    ['POST', '/api/sessions', { name: 'w', config: { webhooks: [{ url: 'http://x', events: ['*'], customHeaders: [{ name: 'bad header', value: '1' }] }] } }, /^config\.webhooks\[0\]\.customHeaders\[0\] name "bad header" is not an HTTP header name/],
    ['POST', '/api/sessions', { name: 'w', config: { metadata: { a: { b: 1 } } } }, /^config\.metadata\.a must be string$/],
    ['POST', '/api/sessions', { name: 'w', start: 'maybe' }, /^start must be boolean$/],
    ['POST', '/api/sessions', { name: 'w', apps: [{ app: 'chatwoot' }] }, /^apps: wa-presence runs no WAHA apps/],
    ['PUT', '/api/sessions/existing', { config: {}, app: [] }, /^app is not a known field; remove it$/],
    ['PUT', '/api/sessions/existing', { config: { webhooks: [{ url: 'javascript:alert(1)', events: ['*'] }] } }, /must use http or https/],
  ] as const)('%s %s %j → 400 naming the field', async (method, url, body, message) => {
    const h = shared;
    const response = await h.request(method, url, body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
    expect(response.json<{ message: string }>().message).toMatch(message);
  });

  it('a duplicate name is a 409 SESSION_EXISTS', async () => {
    const h = shared;
    await h.request('POST', '/api/sessions', { name: 'dup', start: false });
    const response = await h.request('POST', '/api/sessions', { name: 'dup' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'SESSION_EXISTS', session: 'dup' });
  });

  it.each([
    ['GET', '/api/sessions/nope'],
    ['PUT', '/api/sessions/nope'],
    ['POST', '/api/sessions/nope/start'],
    ['POST', '/api/sessions/nope/stop'],
    ['POST', '/api/sessions/nope/restart'],
    ['POST', '/api/sessions/nope/logout'],
    ['GET', '/api/sessions/nope/me'],
  ] as const)('%s %s → 404 SESSION_NOT_FOUND', async (method, url) => {
    const h = shared;
    const response = await h.request(method, url, method === 'PUT' ? { config: {} } : undefined);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'SESSION_NOT_FOUND', error: 'Not Found', session: 'nope' });
  });

  it('DELETE of an unknown session is a 200: WAHA documents the delete as idempotent', async () => {
    const response = await shared.request('DELETE', '/api/sessions/nope');
    expect(response.statusCode).toBe(200);
  });

  it('an engine that cannot start is a 502 and leaves the session FAILED', async () => {
    const h = shared;
    h.engines.onCreate = (engine) => engine.failNext('start', new Error('bad credentials'));
    const response = await h.request('POST', '/api/sessions', { name: 'f' });
    h.engines.onCreate = null;
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({ code: 'ENGINE_FAILED' });
    expect((await h.request('GET', '/api/sessions/f')).json()).toMatchObject({ status: 'FAILED' });
  });

  it('a session that was running comes back after a server restart, from the same storage', async () => {
    const h = await httpHarness();
    await h.working('keep');
    await h.request('POST', '/api/sessions', { name: 'stopped', start: false });
    await h.server.close();
    expect(h.engines.latest('keep').state).toBe('stopped');

    const again = await createServer(loadConfig({ WHATSAPP_API_KEY: 'k' }, []), { storage: h.storage, engines: h.engines, publisher: h.publisher, logger: silentLogger });
    try {
      await again.sessions.resume({ startSessions: [], restartAll: false });
      expect(h.engines.count('keep')).toBe(2);
      expect(h.engines.count('stopped')).toBe(0);
      const listed = await again.http.inject({ method: 'GET', url: '/api/sessions/keep', headers: { 'x-api-key': 'k' } });
      expect(listed.json()).toMatchObject({ status: 'STARTING', me: ME });
    } finally {
      await again.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { createServer } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { API_KEY_SETTING } from '../../src/http/api-key.js';
import { FakeEngineFactory } from '../support/fake-engine.js';
import { tempStorage } from '../support/harness.js';
import { API_KEY, httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';
import { RecordingPublisher } from '../support/recording-publisher.js';

const protectedRoutes = [
  ['GET', '/api/sessions'],
  ['POST', '/api/sessions'],
  ['GET', '/api/sessions/default'],
  ['PUT', '/api/sessions/default'],
  ['DELETE', '/api/sessions/default'],
  ['POST', '/api/sessions/default/start'],
  ['POST', '/api/sessions/default/stop'],
  ['POST', '/api/sessions/default/restart'],
  ['POST', '/api/sessions/default/logout'],
  ['GET', '/api/sessions/default/me'],
  ['GET', '/api/default/auth/qr'],
  ['POST', '/api/default/auth/request-code'],
  ['POST', '/api/default/presence'],
  ['GET', '/api/default/presence'],
  ['GET', '/api/default/presence/1@c.us'],
  ['POST', '/api/default/presence/1@c.us/subscribe'],
  ['POST', '/api/startTyping'],
  ['POST', '/api/stopTyping'],
] as const;

describe('API key', () => {
  let shared: HttpHarness;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    shared = await httpHarness({}, {}, (fn) => cleanups.push(fn));
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it.each(protectedRoutes)('%s %s without the key → 401, with a wrong key → 401', async (method, url) => {
    const h = shared;
    const missing = await h.server.inject({ method, url });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', message: 'missing API key: send it in the X-Api-Key header' });
    const wrong = await h.server.inject({ method, url, headers: { 'x-api-key': `${API_KEY}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'UNAUTHORIZED', message: 'wrong API key in X-Api-Key' });
  });

  it('keeps telling right from wrong keys past the bound of remembered digests, in any order', async () => {
    const h = shared;
    const url = '/api/sessions';
    for (let i = 0; i < 40; i += 1) {
      const wrongKey = i % 2 === 0 ? `${API_KEY}${i}` : API_KEY.slice(0, -1) + String.fromCharCode(65 + (i % 26));
      expect((await h.server.inject({ method: 'GET', url, headers: { 'x-api-key': wrongKey } })).statusCode).toBe(401);
      expect((await h.server.inject({ method: 'GET', url, headers: { 'x-api-key': API_KEY } })).statusCode).toBe(200);
      expect((await h.server.inject({ method: 'GET', url, headers: { 'x-api-key': wrongKey } })).statusCode).toBe(401);
    }
  });

  it('health and the docs are open; the key in the query is refused on REST routes (only /ws takes it there)', async () => {
    const h = shared;
    expect((await h.server.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await h.server.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    expect((await h.server.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    const inQuery = await h.server.inject({ method: 'GET', url: `/api/sessions?x-api-key=${API_KEY}` });
    expect(inQuery.statusCode).toBe(401);
    expect(inQuery.json()).toMatchObject({ message: 'missing API key: send it in the X-Api-Key header' });
  });

  it('WHATSAPP_API_KEY_EXCLUDE_PATH opens the listed paths only', async () => {
    const h = await httpHarness({ WHATSAPP_API_KEY_EXCLUDE_PATH: 'api/sessions, /api/default/presence' });
    expect((await h.server.inject({ method: 'GET', url: '/api/sessions?all=true' })).statusCode).toBe(200);
    expect((await h.server.inject({ method: 'GET', url: '/api/default/presence' })).statusCode).toBe(404);
    expect((await h.server.inject({ method: 'GET', url: '/api/sessions/default' })).statusCode).toBe(401);
  });

  it('without WHATSAPP_API_KEY, generates a key at first start, stores it and logs it only once', async () => {
    const { storage } = await tempStorage();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const config = loadConfig({}, []);
    const overrides = { storage, engines: new FakeEngineFactory(), publisher: new RecordingPublisher(), logger };
    const first = await createServer(config, overrides);
    await first.close();
    const second = await createServer(config, overrides);
    await second.close();
    expect(first.apiKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.apiKey).toBe(first.apiKey);
    expect(await storage.settings.get(API_KEY_SETTING)).toBe(first.apiKey);
    expect(lines.filter((line) => line.includes(first.apiKey))).toHaveLength(1);
    const third = await createServer(config, overrides);
    onTestFinished(() => third.close());
    const ok = await third.http.inject({ method: 'GET', url: '/api/sessions', headers: { 'x-api-key': first.apiKey } });
    expect(ok.statusCode).toBe(200);
  });
});

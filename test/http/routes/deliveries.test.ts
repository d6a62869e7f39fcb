import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireApiKey } from '../../../src/http/api-key.js';
import { registerErrorHandling } from '../../../src/http/errors.js';
import { deliveriesRoutes } from '../../../src/http/routes/deliveries.js';
import type { Storage } from '../../../src/storage/index.js';
import { openStorage } from '../../../src/storage/index.js';

const KEY = 'test-key';
const T0 = 1_700_000_000_000;
let storage: Storage;
let app: FastifyInstance;
let wakes = 0;
const teardown: (() => Promise<void>)[] = [];

beforeEach(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-deliveries-'));
  teardown.push(() => rm(dir, { recursive: true, force: true }));
  storage = await openStorage({ dataDir: dir, databaseUrl: null });
  teardown.push(() => storage.close());
  wakes = 0;
  app = Fastify();
  teardown.push(() => app.close());
  registerErrorHandling(app);
  const register = deliveriesRoutes({ outbox: storage.outbox, sessions: storage.sessions, wake: () => (wakes += 1), clock: { now: () => T0 + 100 } });
  await app.register(async (scope) => {
    requireApiKey(scope, KEY, []);
    await register(scope);
  });
  await storage.sessions.create({ name: 's1', engine: 'NOWEB', config: {}, running: false, me: null, presence: null, createdAt: T0, updatedAt: T0 });
  // Three deliveries of s1: e1 failed (410), e2 delivered, e3 pending; and one of another session.
  const d = (chat: string) => ({ url: 'http://hook.test/', webhookKey: 'w', orderKey: `w|${chat}`, target: '{}' });
  for (const [id, chat] of [['e1', 'c1'], ['e2', 'c2'], ['e3', 'c3']] as const) {
    await storage.outbox.enqueue({ id, session: 's1', event: 'presence.update', body: `{"id":"${id}"}` }, [d(chat)], T0);
  }
  await storage.outbox.enqueue({ id: 'x1', session: 's2', event: 'presence.update', body: '{}' }, [d('c9')], T0);
  const claimed = await storage.outbox.claim({ owner: 'srv', now: T0, leaseMs: 1000, limit: 10, excludeWebhookKeys: [] });
  for (const c of claimed) {
    if (c.eventId === 'e1') await storage.outbox.complete(c.id, 'srv', { kind: 'failed', error: 'HTTP 410', status: 410 }, T0 + 1);
    if (c.eventId === 'e2') await storage.outbox.complete(c.id, 'srv', { kind: 'delivered', status: 200 }, T0 + 2);
  }
  await storage.outbox.release(claimed.map((c) => c.id), 'srv');
});
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

function get(url: string) {
  return app.inject({ method: 'GET', url, headers: { 'x-api-key': KEY } });
}
function post(url: string) {
  return app.inject({ method: 'POST', url, headers: { 'x-api-key': KEY } });
}

describe('GET /api/{session}/webhooks/deliveries', () => {
  it("lists the session's deliveries newest first, with status, attempts and the last error", async () => {
    const res = await get('/api/s1/webhooks/deliveries');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ eventId: string; status: string }[]>();
    expect(body.map((d) => [d.eventId, d.status])).toEqual([
      ['e3', 'pending'],
      ['e2', 'delivered'],
      ['e1', 'failed'],
    ]);
    expect(body[2]).toMatchObject({ attempts: 1, lastError: 'HTTP 410', lastStatus: 410, url: 'http://hook.test/', nextAttemptAt: null });
  });

  it('filters by status and pages with limit and before', async () => {
    const failed = await get('/api/s1/webhooks/deliveries?status=failed');
    expect(failed.json<{ eventId: string }[]>().map((d) => d.eventId)).toEqual(['e1']);
    const first = await get('/api/s1/webhooks/deliveries?limit=1');
    const [newest] = first.json<{ id: number; eventId: string }[]>();
    expect(newest?.eventId).toBe('e3');
    const next = await get(`/api/s1/webhooks/deliveries?limit=5&before=${newest?.id ?? 0}`);
    expect(next.json<{ eventId: string }[]>().map((d) => d.eventId)).toEqual(['e2', 'e1']);
  });

  it('rejects a bad status or limit with a message naming the field, and an unknown session with 404', async () => {
    const bad = await get('/api/s1/webhooks/deliveries?status=lost');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/status/) as unknown });
    expect((await get('/api/s1/webhooks/deliveries?limit=0')).statusCode).toBe(400);
    expect((await get('/api/s1/webhooks/deliveries?limit=501')).statusCode).toBe(400);
    const missing = await get('/api/nope/webhooks/deliveries');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('needs the API key', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/s1/webhooks/deliveries' })).statusCode).toBe(401);
  });
});

describe('POST /api/{session}/webhooks/deliveries/{id}/replay', () => {
  it('queues a failed delivery again as a new pending one and wakes the worker', async () => {
    const [failed] = (await get('/api/s1/webhooks/deliveries?status=failed')).json<{ id: number }[]>();
    const res = await post(`/api/s1/webhooks/deliveries/${failed?.id ?? 0}/replay`);
    expect(res.statusCode).toBe(201);
    const { id } = res.json<{ id: number }>();
    expect(wakes).toBe(1);
    const pending = (await get('/api/s1/webhooks/deliveries?status=pending')).json<{ id: number; eventId: string; createdAt: number }[]>();
    expect(pending.find((d) => d.id === id)).toMatchObject({ eventId: 'e1', createdAt: T0 + 100 });
  });

  it('refuses a pending delivery (400), and one of another session or unknown (404)', async () => {
    const [pending] = (await get('/api/s1/webhooks/deliveries?status=pending')).json<{ id: number }[]>();
    const res = await post(`/api/s1/webhooks/deliveries/${pending?.id ?? 0}/replay`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ message: expect.stringMatching(/still pending/) as unknown });
    const all = await storage.outbox.list('s2', { status: null, limit: 10, before: null });
    expect((await post(`/api/s1/webhooks/deliveries/${all[0]?.id ?? 0}/replay`)).statusCode).toBe(404);
    expect((await post('/api/s1/webhooks/deliveries/999999/replay')).json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await post('/api/s1/webhooks/deliveries/abc/replay')).statusCode).toBe(400);
    expect(wakes).toBe(0);
  });
});

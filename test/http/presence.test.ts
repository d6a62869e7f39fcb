import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';
import type { FakeEngine } from '../support/fake-engine.js';

const contact = '2132132130@c.us';
const group = '11111111111111111111111@g.us';

describe('presence routes', () => {
  let h: HttpHarness;
  let engine: FakeEngine;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    h = await httpHarness({}, {}, (fn) => cleanups.push(fn));
    engine = await h.working('default');
    // A second session that never gets past SCAN_QR_CODE, for the 422 cases.
    await h.request('POST', '/api/sessions', { name: 'pending' });
    h.engines.latest('pending').status('SCAN_QR_CODE');
    await h.sessions.settled('pending');
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('POST presence online/offline is global and remembered', async () => {
    engine.calls.length = 0;
    const online = await h.request('POST', '/api/default/presence', { presence: 'online' });
    expect(online.statusCode).toBe(201);
    const offline = await h.request('POST', '/api/default/presence', { presence: 'offline' });
    expect(offline.statusCode).toBe(201);
    expect(engine.callsOf('setPresence').map((call) => call.presence)).toEqual(['online', 'offline']);
    expect((await h.storage.sessions.get('default'))?.presence).toBe('offline');
  });

  it('POST presence typing/recording/paused goes to the chat, with s.whatsapp.net normalised', async () => {
    engine.calls.length = 0;
    expect((await h.request('POST', '/api/default/presence', { presence: 'typing', chatId: '2132132130@s.whatsapp.net' })).statusCode).toBe(201);
    expect((await h.request('POST', '/api/default/presence', { presence: 'recording', chatId: group, durationMs: 3000 })).statusCode).toBe(201);
    expect((await h.request('POST', '/api/default/presence', { presence: 'paused', chatId: contact })).statusCode).toBe(201);
    expect(engine.callsOf('setChatPresence')).toEqual([
      { method: 'setChatPresence', chatId: contact, presence: 'typing' },
      { method: 'setChatPresence', chatId: group, presence: 'recording', durationMs: 3000 },
      { method: 'setChatPresence', chatId: contact, presence: 'paused' },
    ]);
  });

  it.each([
    [{ presence: 'online', chatId: contact }, 'INVALID_PRESENCE', /works on the global scope and doesn't require 'chatId'/],
    [{ presence: 'offline', durationMs: 10 }, 'INVALID_PRESENCE', /durationMs applies to typing and recording only/],
    [{ presence: 'typing' }, 'INVALID_PRESENCE', /requires 'chatId'/],
    [{ presence: 'paused', chatId: contact, durationMs: 10 }, 'INVALID_PRESENCE', /durationMs applies to typing and recording only/],
    [{ presence: 'away' }, 'VALIDATION_FAILED', /^presence must be one of: online, offline, typing, recording, paused$/],
    [{}, 'VALIDATION_FAILED', /^presence is required$/],
    [{ presence: 'typing', chatId: 'nobody' }, 'INVALID_CHAT_ID', /expected <digits>@c\.us/],
    [{ presence: 'typing', chatId: contact, durationMs: 0 }, 'VALIDATION_FAILED', /^durationMs must be >= 1$/],
    // A number is not converted to the string "5": the wrong JSON type is named as such.
    [{ presence: 'typing', chatId: 5 }, 'VALIDATION_FAILED', /^chatId must be string$/],
    [{ presence: 'typing', chatId: { id: 1 } }, 'VALIDATION_FAILED', /^chatId must be string$/],
  ])('POST presence %j → 400 %s', async (body, code, message) => {
    engine.calls.length = 0;
    const response = await h.request('POST', '/api/default/presence', body);
    expect(response.statusCode).toBe(400);
    const json = response.json<{ code: string; message: string; statusCode: number }>();
    expect(json.code).toBe(code);
    expect(json.statusCode).toBe(400);
    expect(json.message).toMatch(message);
    expect(engine.calls).toEqual([]);
  });

  it('POST presence with a body that is not JSON is a 400', async () => {
    const response = await h.request('POST', '/api/default/presence', undefined, { 'content-type': 'application/json' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the request body must be a JSON object (Content-Type: application/json)' });
    const broken = await h.server.inject({
      method: 'POST',
      url: '/api/default/presence',
      headers: { 'x-api-key': h.apiKey, 'content-type': 'application/json' },
      payload: '{"presence":',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
  });

  it('GET presence of a chat subscribes it first and answers what is known', async () => {
    engine.calls.length = 0;
    const first = await h.request('GET', `/api/default/presence/${contact}`);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ id: contact, presences: [] });
    expect(engine.callsOf('subscribe')).toEqual([{ method: 'subscribe', chatId: contact }]);

    engine.presence(contact, [{ participant: contact, lastKnownPresence: 'offline', lastSeen: 1686719326 }]);
    await h.sessions.settled('default');
    const second = await h.request('GET', `/api/default/presence/2132132130@s.whatsapp.net`);
    expect(second.json()).toEqual({ id: contact, presences: [{ participant: contact, lastKnownPresence: 'offline', lastSeen: 1686719326 }] });
    expect(engine.callsOf('subscribe')).toHaveLength(1);
  });

  it('GET presence of a group lists every participant seen', async () => {
    engine.presence(group, [
      { participant: group, lastKnownPresence: 'online', lastSeen: null },
      { participant: contact, lastKnownPresence: 'typing', lastSeen: null },
    ]);
    await h.sessions.settled('default');
    const response = await h.request('GET', `/api/default/presence/${group}`);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ id: string; presences: { participant: string }[] }>();
    expect(body.id).toBe(group);
    expect(body.presences.map((entry) => entry.participant).sort()).toEqual([contact, group].sort());
  });

  it('GET presence lists every chat with known presence, in WAHA shape', async () => {
    const response = await h.request('GET', '/api/default/presence');
    expect(response.statusCode).toBe(200);
    const body = response.json<{ id: string; presences: { participant: string; lastKnownPresence: string; lastSeen: number | null }[] }[]>();
    expect(body.map((chat) => chat.id).sort()).toEqual([contact, group].sort());
    for (const chat of body) {
      for (const entry of chat.presences) expect(Object.keys(entry).sort()).toEqual(['lastKnownPresence', 'lastSeen', 'participant']);
    }
  });

  it('POST subscribe subscribes (no body needed, an empty JSON body accepted) and stores it', async () => {
    engine.calls.length = 0;
    const chat = '5511999999999@c.us';
    const response = await h.server.inject({ method: 'POST', url: `/api/default/presence/${chat}/subscribe`, headers: { 'x-api-key': h.apiKey } });
    expect(response.statusCode).toBe(201);
    const again = await h.server.inject({
      method: 'POST',
      url: `/api/default/presence/${chat}/subscribe`,
      headers: { 'x-api-key': h.apiKey, 'content-type': 'application/json' },
    });
    expect(again.statusCode).toBe(201);
    expect(engine.callsOf('subscribe')).toEqual([
      { method: 'subscribe', chatId: chat },
      { method: 'subscribe', chatId: chat },
    ]);
    expect((await h.storage.subscriptions.list('default')).map((sub) => sub.chatId)).toContain(chat);
  });

  it('POST startTyping / stopTyping take the session in the body', async () => {
    engine.calls.length = 0;
    const start = await h.request('POST', '/api/startTyping', { session: 'default', chatId: contact, durationMs: 5000 });
    expect(start.statusCode).toBe(201);
    expect(start.json()).toEqual({ result: true });
    const stop = await h.request('POST', '/api/stopTyping', { session: 'default', chatId: contact });
    expect(stop.json()).toEqual({ result: true });
    expect(engine.callsOf('setChatPresence')).toEqual([
      { method: 'setChatPresence', chatId: contact, presence: 'typing', durationMs: 5000 },
      { method: 'setChatPresence', chatId: contact, presence: 'paused' },
    ]);
  });

  it.each([
    ['/api/startTyping', { session: 'default' }, 'VALIDATION_FAILED', /^chatId is required$/],
    ['/api/startTyping', { chatId: contact }, 'VALIDATION_FAILED', /^session is required$/],
    ['/api/startTyping', { session: 'default', chatId: '123' }, 'INVALID_CHAT_ID', /expected/],
    ['/api/stopTyping', { session: 'default', chatId: contact, durationMs: 5 }, 'VALIDATION_FAILED', /durationMs applies to startTyping only/],
    ['/api/startTyping', { session: 'default', chatId: contact, durationMS: 5000 }, 'VALIDATION_FAILED', /^durationMS is not a known field; remove it$/],
    ['/api/default/presence', { presence: 'typing', chatId: contact, duration: 5000 }, 'VALIDATION_FAILED', /^duration is not a known field; remove it$/],
  ])('POST %s %j → 400 %s', async (url, body, code, message) => {
    const response = await h.request('POST', url, body);
    expect(response.statusCode).toBe(400);
    expect(response.json<{ code: string }>().code).toBe(code);
    expect(response.json<{ message: string }>().message).toMatch(message);
  });

  it.each([
    ['GET', `/api/default/presence/12ab@c.us`],
    ['POST', `/api/default/presence/not-a-chat/subscribe`],
    ['DELETE', `/api/default/presence/not-a-chat/subscribe`],
  ] as const)('%s %s with a malformed chat id → 400 INVALID_CHAT_ID naming the forms', async (method, url) => {
    const response = await h.request(method, url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'INVALID_CHAT_ID', field: 'chatId' });
    expect(response.json<{ message: string }>().message).toMatch(/@c\.us|@g\.us|@lid/);
  });

  it.each([
    ['POST', '/api/missing/presence', { presence: 'online' }],
    ['GET', '/api/missing/presence', undefined],
    ['GET', `/api/missing/presence/${contact}`, undefined],
    ['POST', `/api/missing/presence/${contact}/subscribe`, undefined],
    ['DELETE', `/api/missing/presence/${contact}/subscribe`, undefined],
    ['GET', '/api/missing/presence/subscriptions', undefined],
    ['POST', '/api/startTyping', { session: 'missing', chatId: contact }],
    ['POST', '/api/stopTyping', { session: 'missing', chatId: contact }],
  ] as const)('%s %s on an unknown session → 404 SESSION_NOT_FOUND', async (method, url, body) => {
    const response = await h.request(method, url, body);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'SESSION_NOT_FOUND', session: 'missing' });
  });

  it.each([
    ['POST', '/api/pending/presence', { presence: 'online' }],
    ['POST', '/api/pending/presence', { presence: 'typing', chatId: contact }],
    ['GET', '/api/pending/presence', undefined],
    ['GET', `/api/pending/presence/${contact}`, undefined],
    ['POST', `/api/pending/presence/${contact}/subscribe`, undefined],
    ['POST', '/api/startTyping', { session: 'pending', chatId: contact }],
    ['POST', '/api/stopTyping', { session: 'pending', chatId: contact }],
  ] as const)('%s %s on a session not WORKING → 422 with its status', async (method, url, body) => {
    const response = await h.request(method, url, body);
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ statusCode: 422, code: 'SESSION_NOT_WORKING', session: 'pending', status: 'SCAN_QR_CODE' });
    expect(response.json<{ message: string }>().message).toBe(
      'session "pending" is SCAN_QR_CODE, not WORKING; link it first: scan GET /api/pending/auth/qr or use POST /api/pending/auth/request-code',
    );
  });

  it('an engine failure is a 502 ENGINE_FAILED with the reason', async () => {
    engine.failNext('setPresence', new Error('connection closed'));
    const response = await h.request('POST', '/api/default/presence', { presence: 'online' });
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({ code: 'ENGINE_FAILED' });
    expect(response.json<{ message: string }>().message).toContain('connection closed');
  });
});

/** Ours, not WAHA's: what a session is subscribed to, and stopping a subscription. */
describe('subscription routes', () => {
  let h: HttpHarness;
  let engine: FakeEngine;
  const cleanups: (() => Promise<void>)[] = [];
  const other = '4915550000003@c.us';
  const listed = async (session = 'subs'): Promise<{ chatId: string; since: number | null }[]> => {
    const response = await h.request('GET', `/api/${session}/presence/subscriptions`);
    expect(response.statusCode).toBe(200);
    return response.json();
  };

  beforeAll(async () => {
    h = await httpHarness({}, {}, (fn) => cleanups.push(fn));
    engine = await h.working('subs');
    await h.request('POST', '/api/sessions', { name: 'pending' });
    h.engines.latest('pending').status('SCAN_QR_CODE');
    await h.sessions.settled('pending');
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('GET subscriptions lists every subscribed chat, oldest first, with since in ms; the path is not taken for a chat id', async () => {
    expect(await listed()).toEqual([]);
    const before = Date.now();
    expect((await h.request('POST', `/api/subs/presence/${contact}/subscribe`)).statusCode).toBe(201);
    // A GET of a chat subscribes it too; subscribing again keeps the first time.
    expect((await h.request('GET', `/api/subs/presence/${group}`)).statusCode).toBe(200);
    expect((await h.request('POST', `/api/subs/presence/2132132130@s.whatsapp.net/subscribe`)).statusCode).toBe(201);
    const after = Date.now();
    const subscriptions = await listed();
    expect(subscriptions.map((sub) => sub.chatId)).toEqual([contact, group]);
    for (const { since } of subscriptions) {
      expect(since).toBeGreaterThanOrEqual(before);
      expect(since).toBeLessThanOrEqual(after);
    }
    // Had /presence/:chatId answered, "subscriptions" would be an INVALID_CHAT_ID or a subscribe.
    expect(engine.callsOf('subscribe').map((call) => call.chatId)).toEqual([contact, group, contact]);
  });

  it('GET subscriptions answers in any status: a session waiting for its QR', async () => {
    expect(await listed('pending')).toEqual([]);
  });

  it('DELETE subscribe removes the chat from the store, sends WhatsApp nothing, and is idempotent', async () => {
    await h.request('POST', `/api/subs/presence/${other}/subscribe`);
    engine.calls.length = 0;
    const response = await h.request('DELETE', `/api/subs/presence/2132132130@s.whatsapp.net/subscribe`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ chatId: contact, subscribed: false, removed: true });
    expect((await listed()).map((sub) => sub.chatId)).toEqual([group, other]);
    const again = await h.request('DELETE', `/api/subs/presence/${contact}/subscribe`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ chatId: contact, subscribed: false, removed: false });
    const never = await h.request('DELETE', `/api/subs/presence/4915550000999@c.us/subscribe`);
    expect(never.json()).toEqual({ chatId: '4915550000999@c.us', subscribed: false, removed: false });
    expect(engine.calls).toEqual([]);
  });

  it('4xx change nothing: a malformed chat id is a 400 and an unknown session a 404, the subscriptions stay as they were', async () => {
    const before = await listed();
    expect(before.length).toBeGreaterThan(0);
    engine.calls.length = 0;
    for (const chat of ['subscriptions', '12ab@c.us', 'nobody']) {
      const response = await h.request('DELETE', `/api/subs/presence/${chat}/subscribe`);
      expect(response.statusCode, chat).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, code: 'INVALID_CHAT_ID', field: 'chatId' });
    }
    const missing = await h.request('DELETE', `/api/missing/presence/${group}/subscribe`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'SESSION_NOT_FOUND', session: 'missing' });
    expect(await listed()).toEqual(before);
    expect(engine.calls).toEqual([]);
    expect(await h.storage.sessions.get('missing')).toBeNull();
    expect(await h.storage.subscriptions.list('missing')).toEqual([]);
  });

  it('DELETE works on a stopped session, and the next start renews only what is left', async () => {
    expect((await h.request('POST', '/api/sessions/subs/stop')).statusCode).toBe(201);
    expect((await h.request('DELETE', `/api/subs/presence/${group}/subscribe`)).json()).toEqual({ chatId: group, subscribed: false, removed: true });
    expect((await listed()).map((sub) => sub.chatId)).toEqual([other]);
    expect((await h.request('POST', '/api/sessions/subs/start')).statusCode).toBe(201);
    h.engines.latest('subs').working();
    await h.sessions.settled('subs');
    expect(h.engines.latest('subs').callsOf('subscribe').map((call) => call.chatId)).toEqual([other]);
  });
});

import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ME, httpHarness } from '../support/http.js';
import type { HttpHarness } from '../support/http.js';
import { notImplementedReason } from './not-implemented.js';
import { fieldPaths, operation, requestSchema, responseSchema, sample, wahaErrors, wahaOperations } from './waha-document.js';
import type { SampleMode, Schema } from './waha-document.js';

/**
 * Issue 12: every WAHA operation we serve, driven by WAHA's own document. For each: the same method
 * and path in our OpenAPI document; every request WAHA's schema allows (every field, optional ones
 * as null, required ones only) answered with WAHA's success status; and the answer valid against
 * WAHA's response schema (every field WAHA requires, with WAHA's type).
 */

const MODES: readonly SampleMode[] = ['full', 'nulls', 'shallowNulls', 'minimal'];
const CHAT = '11111111111@c.us';
/** What axios sends when nobody sets Accept: WAHA answers it the PNG. */
const AXIOS_ACCEPT = 'application/json, text/plain, */*';

/**
 * Values WAHA's examples cannot give, by field: `apps` — wa-presence runs no WAHA apps, so an app
 * list is refused with a 400 saying so (the one request field we refuse by design; README).
 */
const OVERRIDES = { apps: [] };

interface Exchange {
  readonly label: string;
  readonly response: LightMyRequestResponse;
}

interface Case {
  /** WAHA's success status for the operation. */
  readonly status: number;
  /** Every request a WAHA client may send, answered by our app. */
  readonly run: (h: HttpHarness) => Promise<Exchange[]>;
}

let created = 0;
const unique = (prefix: string): string => `${prefix}${(created += 1)}`;

function bodies(key: string, overrides: Readonly<Record<string, unknown>> = OVERRIDES): { label: string; body: unknown }[] {
  return MODES.map((mode) => ({ label: mode, body: sample(requestSchema(key), mode, overrides) }));
}

async function scanning(h: HttpHarness, name: string): Promise<void> {
  await h.request('POST', '/api/sessions', { name });
  const engine = h.engines.latest(name);
  engine.status('SCAN_QR_CODE');
  engine.qr('2@abc,def,ghi');
  await h.sessions.settled(name);
}

const send = async (h: HttpHarness, label: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers?: Record<string, string>): Promise<Exchange> => ({
  label,
  response: await h.request(method, url, body, headers),
});

export const IMPLEMENTED: Readonly<Record<string, Case>> = {
  'GET /api/sessions': {
    status: 200,
    async run(h) {
      await h.working('listed');
      return Promise.all(['', '?all=true', '?all=false', '?expand=apps', '?expand=apps&all=true'].map((query) => send(h, query, 'GET', `/api/sessions${query}`)));
    },
  },
  'POST /api/sessions': {
    status: 201,
    async run(h) {
      const out: Exchange[] = [];
      for (const { label, body } of bodies('POST /api/sessions')) {
        // Each creates a session: a name of its own, except where WAHA's sample leaves it out.
        const named = typeof body === 'object' && body !== null && 'name' in body && typeof body.name === 'string' ? { ...body, name: unique('created') } : body;
        out.push(await send(h, label, 'POST', '/api/sessions', named));
      }
      return out;
    },
  },
  'GET /api/sessions/{session}': {
    status: 200,
    async run(h) {
      await h.working('one');
      await h.request('POST', '/api/sessions', { name: 'stopped', start: false });
      return [await send(h, 'WORKING', 'GET', '/api/sessions/one'), await send(h, 'STOPPED', 'GET', '/api/sessions/stopped'), await send(h, 'expand', 'GET', '/api/sessions/one?expand=apps')];
    },
  },
  'PUT /api/sessions/{session}': {
    status: 200,
    async run(h) {
      await h.request('POST', '/api/sessions', { name: 'updated', start: false });
      return Promise.all(bodies('PUT /api/sessions/{session}').map(({ label, body }) => send(h, label, 'PUT', '/api/sessions/updated', body)));
    },
  },
  'DELETE /api/sessions/{session}': {
    status: 200,
    async run(h) {
      await h.working('deleted');
      return [await send(h, 'running', 'DELETE', '/api/sessions/deleted'), await send(h, 'already gone (idempotent)', 'DELETE', '/api/sessions/deleted')];
    },
  },
  'GET /api/sessions/{session}/me': {
    status: 200,
    async run(h) {
      await h.working('me');
      return [await send(h, 'logged in', 'GET', '/api/sessions/me/me')];
    },
  },
  ...Object.fromEntries(
    (['stop', 'start', 'restart', 'logout'] as const).map((action) => [
      `POST /api/sessions/{session}/${action}`,
      {
        status: 201,
        async run(h: HttpHarness) {
          await h.working(action);
          if (action === 'start') await h.request('POST', `/api/sessions/${action}/stop`);
          return [await send(h, 'no body', 'POST', `/api/sessions/${action}/${action}`)];
        },
      } satisfies Case,
    ]),
  ),
  'GET /api/{session}/auth/qr': {
    status: 200,
    async run(h) {
      await scanning(h, 'qr');
      return [
        await send(h, 'format=raw', 'GET', '/api/qr/auth/qr?format=raw'),
        await send(h, 'Accept: application/json', 'GET', '/api/qr/auth/qr?format=image', undefined, { accept: 'application/json' }),
        await send(h, 'axios default Accept (PNG)', 'GET', '/api/qr/auth/qr?format=image', undefined, { accept: AXIOS_ACCEPT }),
        await send(h, 'no format (PNG)', 'GET', '/api/qr/auth/qr'),
      ];
    },
  },
  'POST /api/{session}/auth/request-code': {
    status: 201,
    async run(h) {
      const out: Exchange[] = [];
      for (const { label, body } of bodies('POST /api/{session}/auth/request-code')) {
        const name = unique('code');
        await scanning(h, name);
        out.push(await send(h, label, 'POST', `/api/${name}/auth/request-code`, body));
      }
      return out;
    },
  },
  'POST /api/{session}/presence': {
    status: 201,
    async run(h) {
      await h.working('p');
      const out: Exchange[] = [];
      for (const presence of ['online', 'offline']) {
        out.push(await send(h, `${presence} without chatId`, 'POST', '/api/p/presence', { presence }));
        out.push(await send(h, `${presence}, chatId: null`, 'POST', '/api/p/presence', { presence, chatId: null }));
      }
      for (const presence of ['typing', 'recording', 'paused']) {
        out.push(await send(h, presence, 'POST', '/api/p/presence', { ...(sample(requestSchema('POST /api/{session}/presence'), 'full') as object), presence }));
      }
      return out;
    },
  },
  'GET /api/{session}/presence': {
    status: 200,
    async run(h) {
      const engine = await h.working('p');
      engine.presence(CHAT, [{ participant: CHAT, lastKnownPresence: 'online', lastSeen: null }]);
      engine.presence('22222222222@c.us', [{ participant: '22222222222@c.us', lastKnownPresence: 'offline', lastSeen: 1_686_568_773 }]);
      await h.sessions.settled('p');
      return [await send(h, 'two chats', 'GET', '/api/p/presence')];
    },
  },
  'GET /api/{session}/presence/{chatId}': {
    status: 200,
    async run(h) {
      const engine = await h.working('p');
      engine.presence(CHAT, [{ participant: CHAT, lastKnownPresence: 'typing', lastSeen: null }]);
      await h.sessions.settled('p');
      return [await send(h, 'known', 'GET', `/api/p/presence/${CHAT}`), await send(h, 'not seen yet', 'GET', '/api/p/presence/123456789@c.us')];
    },
  },
  'POST /api/{session}/presence/{chatId}/subscribe': {
    status: 201,
    async run(h) {
      await h.working('p');
      return [await send(h, 'no body', 'POST', `/api/p/presence/${CHAT}/subscribe`)];
    },
  },
  ...Object.fromEntries(
    (['startTyping', 'stopTyping'] as const).map((route) => [
      `POST /api/${route}`,
      {
        status: 201,
        async run(h: HttpHarness) {
          await h.working('default');
          return Promise.all(bodies(`POST /api/${route}`).map(({ label, body }) => send(h, label, 'POST', `/api/${route}`, body)));
        },
      } satisfies Case,
    ]),
  ),
  'GET /ping': { status: 200, run: async (h) => [await send(h, 'open', 'GET', '/ping', undefined, { 'x-api-key': '' })] },
  'GET /health': { status: 200, run: async (h) => [await send(h, 'open', 'GET', '/health', undefined, { 'x-api-key': '' })] },
  'GET /api/server/version': { status: 200, run: async (h) => [await send(h, 'with key', 'GET', '/api/server/version')] },
  'GET /api/version': { status: 200, run: async (h) => [await send(h, 'with key', 'GET', '/api/version')] },
  'GET /api/server/status': { status: 200, run: async (h) => [await send(h, 'with key', 'GET', '/api/server/status')] },
};

/** `{x}` in WAHA's path is `{x}` in ours too (Fastify's `:x`, as @fastify/swagger writes it). */
async function ourDocument(h: HttpHarness): Promise<{ paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>> }> {
  return (await h.request('GET', '/openapi.json')).json();
}

/** WAHA's app fields: ours takes apps as a list of anything and refuses a non-empty one (see OVERRIDES). */
const FIELDS_NOT_MODELLED = /^apps\[\]\./;

describe('WAHA operations we serve', () => {
  it('every WAHA operation is either served (IMPLEMENTED) or listed with its reason (not-implemented.ts), not both', () => {
    for (const key of wahaOperations()) {
      const served = key in IMPLEMENTED;
      const reason = notImplementedReason(key);
      expect(served || reason !== null, `${key} is neither implemented nor listed in not-implemented.ts`).toBe(true);
      expect(served && reason !== null, `${key} is implemented but listed in not-implemented.ts`).toBe(false);
    }
    expect(Object.keys(IMPLEMENTED).filter((key) => !wahaOperations().includes(key))).toEqual([]);
  });

  it("our OpenAPI document has WAHA's method and path for each, and every request field WAHA defines", async () => {
    const h = await httpHarness();
    const ours = await ourDocument(h);
    for (const key of Object.keys(IMPLEMENTED)) {
      const [method = '', path = ''] = key.split(' ');
      const ourOperation = ours.paths[path]?.[method.toLowerCase()];
      expect(ourOperation, `${key} missing from our OpenAPI document`).toBeDefined();
      if (operation(key).requestBody === undefined) continue;
      const ourSchema = ourOperation?.requestBody?.content['application/json']?.schema;
      expect(ourSchema, `${key} has no JSON body in our document`).toBeDefined();
      const ourFields = new Set(fieldPaths(ourSchema ?? {}));
      const missing = fieldPaths(requestSchema(key)).filter((field) => !ourFields.has(field) && !FIELDS_NOT_MODELLED.test(field));
      expect(missing, `${key}: WAHA's fields missing from ours`).toEqual([]);
    }
  });

  it.each(Object.entries(IMPLEMENTED))("%s: WAHA's requests get WAHA's status and an answer valid against WAHA's schema", async (key, { status, run }) => {
    const h = await httpHarness();
    const schema = responseSchema(key, status);
    const qr = operation(key).responses[String(status)]?.content;
    for (const { label, response } of await run(h)) {
      expect(response.statusCode, `${key} (${label}): ${response.body}`).toBe(status);
      const type = String(response.headers['content-type'] ?? '');
      if (type.startsWith('image/png')) {
        expect(qr?.['image/png'], `${key} (${label}): WAHA documents no PNG answer`).toBeDefined();
        continue;
      }
      if (schema === null || response.body === '') continue;
      expect(wahaErrors(schema, response.json()), `${key} (${label}): ${response.body}`).toEqual([]);
    }
  });

  it('the QR answers a PNG unless the client asks for JSON only, as WAHA', async () => {
    const h = await httpHarness();
    await scanning(h, 'png');
    for (const accept of [AXIOS_ACCEPT, '*/*', 'image/png', 'text/html,application/json;q=0.9', '']) {
      const response = await h.request('GET', '/api/png/auth/qr', undefined, accept === '' ? {} : { accept });
      expect(response.headers['content-type'], accept).toBe('image/png');
    }
    const json = await h.request('GET', '/api/png/auth/qr', undefined, { accept: 'application/json' });
    expect(json.json()).toMatchObject({ mimetype: 'image/png' });
  });

  it('GET /api/sessions/{session} has the account WAHA requires: me.id and me.pushName', async () => {
    const h = await httpHarness();
    await h.working('me');
    expect((await h.request('GET', '/api/sessions/me')).json()).toMatchObject({ me: ME, presence: { status: null }, timestamps: { activity: null } });
  });

  it("session info fills WAHA's me.jid, presence and timestamps.activity from what the session did", async () => {
    const h = await httpHarness();
    const engine = await h.working('act');
    // The engine learns the device's jid (NOWEB: creds.me.id) and says so.
    engine.me({ ...ME, jid: '15550000001:7@s.whatsapp.net' });
    await h.sessions.settled('act');
    const before = Date.now();
    const online = await h.request('POST', '/api/act/presence', { presence: 'online' });
    expect(online.statusCode, online.body).toBe(201);
    const info = (await h.request('GET', '/api/sessions/act')).json<{ me: { jid?: string }; presence: { status: string | null }; timestamps: { activity: number | null } }>();
    expect(info.me.jid).toBe('15550000001:7@s.whatsapp.net');
    expect(info.presence).toEqual({ status: 'online' });
    expect(info.timestamps.activity).toBeGreaterThanOrEqual(before);
    const schema = responseSchema('GET /api/sessions/{session}', 200);
    if (schema === null) throw new Error("WAHA's document has no SessionInfo answer");
    expect(wahaErrors(schema, info)).toEqual([]);
    // Typing to a chat is activity too: the timestamp moves on (or stays, within one millisecond).
    const first = info.timestamps.activity ?? 0;
    const typing = await h.request('POST', '/api/startTyping', { session: 'act', chatId: '15550000002@c.us' });
    expect(typing.statusCode, typing.body).toBe(201);
    const later = (await h.request('GET', '/api/sessions?all=true')).json<{ name: string; timestamps: { activity: number | null } }[]>();
    expect(later.find((s) => s.name === 'act')?.timestamps.activity).toBeGreaterThanOrEqual(first);
  });
});

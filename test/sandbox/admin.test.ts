import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { SandboxNetwork, sandboxAdminRoutes } from '../../src/sandbox/index.js';

// The admin routes on their own (as the API server embeds them), driven with inject().
let app: FastifyInstance;
let network: SandboxNetwork;
beforeAll(async () => {
  network = new SandboxNetwork({ logger: pino({ level: 'silent' }), autoPair: true, chatStateTtlMs: 25_000 });
  // As both servers that embed them (src/http/app.ts, src/sandbox/index.ts) configure Fastify.
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
  await app.register(sandboxAdminRoutes, { network });
});
afterAll(async () => {
  network.shutdown();
  await app.close();
});

async function call(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
}

describe('sandbox admin API', () => {
  it('creates contacts, and says what to fix when the input is wrong', async () => {
    expect(await call('POST', '/api/sandbox/contacts', { phone: '4915550000001', name: 'Carol', lastSeenPrivacy: 'nobody' }))
      .toMatchObject({ status: 201, body: { phone: '4915550000001', id: '4915550000001@c.us', kind: 'contact', lastSeenPrivacy: 'nobody', presence: 'offline' } });
    expect(await call('POST', '/api/sandbox/contacts', { phone: '4915550000001' })).toMatchObject({ status: 409, body: { message: expect.stringContaining('exists already') as unknown } });
    const badPhone = await call('POST', '/api/sandbox/contacts', { phone: '+49 155' });
    expect(badPhone.status).toBe(400);
    expect(badPhone.body.message).toContain('phone must be a phone number, digits only');
    const badPrivacy = await call('POST', '/api/sandbox/contacts', { phone: '4915550000009', lastSeenPrivacy: 'friends' });
    expect(badPrivacy.status).toBe(400);
    expect(badPrivacy.body.message).toContain('lastSeenPrivacy');
    const typo = await call('POST', '/api/sandbox/contacts', { phone: '4915550000009', lastseenPrivacy: 'nobody' });
    expect(typo.status).toBe(400);
    expect(typo.body.message).toContain('lastseenPrivacy');
    expect((await network.accounts()).some((account) => account.phone === '4915550000009')).toBe(false);
  });

  it('sets contact presence, validating presence and chatId', async () => {
    await call('POST', '/api/sandbox/contacts', { phone: '4915550000002' });
    expect(await call('POST', '/api/sandbox/contacts/4915550000002/presence', { presence: 'online' })).toEqual({ status: 200, body: { ok: true } });
    expect((await network.accounts()).find((a) => a.phone === '4915550000002')?.presence).toBe('online');
    const noChat = await call('POST', '/api/sandbox/contacts/4915550000002/presence', { presence: 'typing' });
    expect(noChat).toMatchObject({ status: 400, body: { message: expect.stringContaining('needs a chatId') as unknown } });
    const badState = await call('POST', '/api/sandbox/contacts/4915550000002/presence', { presence: 'dancing' });
    expect(badState.status).toBe(400);
    const badChat = await call('POST', '/api/sandbox/contacts/4915550000002/presence', { presence: 'typing', chatId: 'bob' });
    expect(badChat.body.message).toContain('chatId must be a chat id');
    expect((await call('POST', '/api/sandbox/contacts/4915550000002/presence', { presence: 'typing', chatId: '4915559999999@c.us' })).status).toBe(404);
    expect((await call('POST', '/api/sandbox/contacts/4915550000077/presence', { presence: 'online' })).status).toBe(404);
  });

  it('records what a contact received, oldest first', async () => {
    await call('POST', '/api/sandbox/contacts', { phone: '4915550000003' });
    await call('POST', '/api/sandbox/contacts', { phone: '4915550000004' });
    await call('POST', '/api/sandbox/contacts/4915550000004/presence', { presence: 'typing', chatId: '4915550000003@c.us' });
    await call('POST', '/api/sandbox/contacts/4915550000004/presence', { presence: 'paused', chatId: '4915550000003@c.us' });
    const received = await app.inject({ method: 'GET', url: '/api/sandbox/contacts/4915550000003/received' });
    const entries = received.json<{ state: string; from: string; kind: string; stanza: string; timestamp: number }[]>();
    expect(entries.map((e) => [e.kind, e.state, e.from])).toEqual([
      ['chatstate', 'composing', '4915550000004@s.whatsapp.net'],
      ['chatstate', 'paused', '4915550000004@s.whatsapp.net'],
    ]);
    expect(entries[0]?.stanza).toContain('<composing');
    expect((await call('GET', '/api/sandbox/contacts/4915550000099/received')).status).toBe(404);
  });

  it('creates groups of existing accounts only', async () => {
    const made = await call('POST', '/api/sandbox/groups', { subject: 'Team', participants: ['4915550000003@c.us', '4915550000004@c.us'] });
    expect(made.status).toBe(201);
    expect(made.body.id).toMatch(/^\d+@g\.us$/);
    expect((await call('POST', '/api/sandbox/groups', { subject: 'Team', participants: ['4915550000003@c.us'] })).status).toBe(400);
    const unknown = await call('POST', '/api/sandbox/groups', { subject: 'Team', participants: ['4915550000003@c.us', '4915551234567@c.us'] });
    expect(unknown).toMatchObject({ status: 404, body: { message: expect.stringContaining('4915551234567') as unknown } });
    const badId = await call('POST', '/api/sandbox/groups', { subject: 'Team', participants: ['4915550000003@c.us', 'x'] });
    expect(badId.body).toMatchObject({ code: 'VALIDATION_FAILED', field: 'participants[1]', message: expect.stringContaining('participants[1] must be a chat id "<phone>@c.us"') as unknown });
  });

  it('rejects a scan of something that is not a pairing QR, or of a QR nobody waits with', async () => {
    expect((await call('POST', '/api/sandbox/scan', { qr: 'hello' })).body.message).toContain('pairing QR');
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(await call('POST', '/api/sandbox/scan', { qr: `2@ref,${key},${key},${key},WA` })).toMatchObject({ status: 404 });
    expect((await call('POST', '/api/sandbox/scan', {})).status).toBe(400);
  });

  it('lists accounts and drops connections of known accounts only', async () => {
    const { body } = await app.inject({ method: 'GET', url: '/api/sandbox/accounts' }).then((r) => ({ body: r.json<{ phone: string }[]>() }));
    expect(body.map((a) => a.phone)).toContain('4915550000001');
    expect(await call('POST', '/api/sandbox/accounts/4915550000001/drop')).toEqual({ status: 200, body: { dropped: 0 } });
    expect((await call('POST', '/api/sandbox/accounts/4915550000088/drop')).status).toBe(404);
  });

  it('answers errors with the main API\'s body: statusCode, code, error, message (saying what to fix), field', async () => {
    await call('POST', '/api/sandbox/contacts', { phone: '4915550000005' });
    expect(await call('POST', '/api/sandbox/contacts/4915550000005/presence', { presence: 'dancing' })).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        code: 'VALIDATION_FAILED',
        error: 'Bad Request',
        message: 'presence must be one of: online, offline, typing, recording, paused; see GET /api/sandbox/info for the admin API',
        field: 'presence',
      },
    });
    expect(await call('POST', '/api/sandbox/contacts', { phone: '4915550000006', lastSeenPrivacy: 'friends' })).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/^lastSeenPrivacy must be one of: everyone, nobody;/) as unknown, field: 'lastSeenPrivacy' },
    });
    expect(await call('POST', '/api/sandbox/accounts/12/drop')).toMatchObject({
      status: 400,
      body: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/^params\.phone must be a phone number, digits only/) as unknown, field: 'params.phone' },
    });
    expect(await call('POST', '/api/sandbox/accounts/4915550000088/drop')).toEqual({
      status: 404,
      body: { statusCode: 404, code: 'SANDBOX_NOT_FOUND', error: 'Not Found', message: 'no account with phone 4915550000088' },
    });
    expect(await call('POST', '/api/sandbox/contacts', { phone: '4915550000005' })).toMatchObject({ status: 409, body: { statusCode: 409, code: 'SANDBOX_CONFLICT', error: 'Conflict' } });
  });
});

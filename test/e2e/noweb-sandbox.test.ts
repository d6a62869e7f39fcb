import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthenticationCreds } from 'baileys';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { deserialise } from '../../src/engines/noweb/auth-state.js';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import type { ChatPresence } from '../../src/presence/types.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../src/sandbox/index.js';
import type { AccountInfo, ReceivedStanza, Sandbox } from '../../src/sandbox/index.js';
import { createServer } from '../../src/server.js';
import type { Server } from '../../src/server.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';
import { ReceiverDouble } from '../events/receiver-double.js';
import { connectClient, memoryKeyStore } from '../support/baileys-client.js';
import { poll } from '../support/poll.js';

/**
 * Issue 4 end to end: the real HTTP API, the real NOWEB engine, real SQLite storage and the real
 * webhook publisher, against an in-process sandbox driven only through its admin HTTP API.
 */

const API_KEY = 'e2e-key';
const SESSION = 'e2e';
const CONTACT = '4915550001001';
const MEMBER = '4915550001002';
const CONTACT_ID = `${CONTACT}@c.us`;
const logger = pino({ level: 'silent' });

let sandbox: Sandbox;
let receiver: ReceiverDouble;
let storage: Storage;
let dataDir: string;
let server: { app: Server; base: string } | null = null;

async function json<T>(response: Response, what: string): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  if (server === null) throw new Error('server is not running');
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return json<T>(response, `${method} ${path}`);
}

async function admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${sandbox.adminUrl}/api/sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return json<T>(response, `sandbox ${method} ${path}`);
}

/** Polls until `read` satisfies `holds`: HTTP state has no push channel here (webhooks are awaited instead). */
function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  return poll(read, holds, { timeoutMs, everyMs: 20, errors: 'retry' });
}

async function boot(): Promise<void> {
  const config = loadConfig({ WHATSAPP_API_KEY: API_KEY, WA_PRESENCE_SANDBOX: sandbox.url, WA_PRESENCE_SANDBOX_AUTOPAIR: 'false' }, []);
  const engines = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger,
    reconnect: { baseMs: 20, maxMs: 200 },
  });
  const app = await createServer(config, { storage, engines, logger, listen: { host: '127.0.0.1', port: 0 } });
  const base = await app.start();
  server = { app, base };
}

async function shutdown(): Promise<void> {
  const running = server;
  server = null;
  if (running === null) return;
  await running.app.close();
}

beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
  receiver = new ReceiverDouble();
  await receiver.start();
  dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-e2e-'));
  storage = await openStorage({ dataDir, databaseUrl: null });
  await admin('POST', '/contacts', { phone: CONTACT, name: 'Contact' });
  await admin('POST', '/contacts', { phone: MEMBER, name: 'Member' });
  await boot();
});
afterAll(async () => {
  await shutdown();
  await storage.close();
  await rm(dataDir, { recursive: true, force: true });
  await receiver.stop();
  await sandbox.close();
});

interface Hooked {
  readonly event: string;
  readonly session: string;
  readonly payload: unknown;
}

const hooked = (): Hooked[] => receiver.delivered() as Hooked[];

/** Waits for a webhook delivery after the `from`-th one that matches. */
async function webhook(from: number, match: (hook: Hooked) => boolean): Promise<Hooked> {
  const found = (): Hooked | undefined => hooked().slice(from).find(match);
  const timeout = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`no matching webhook; got ${JSON.stringify(hooked().slice(from))}`)), 10_000).unref();
  });
  await Promise.race([receiver.waitFor(() => found() !== undefined), timeout]);
  const hook = found();
  if (hook === undefined) throw new Error('unreachable');
  return hook;
}

const statusHook = (status: string) => (hook: Hooked): boolean =>
  hook.event === 'session.status' && (hook.payload as { status?: string }).status === status;

const presenceHook = (chatId: string, participant: string, lastKnownPresence: string) => (hook: Hooked): boolean =>
  hook.event === 'presence.update' &&
  (hook.payload as ChatPresence).id === chatId &&
  (hook.payload as ChatPresence).presences.some((p) => p.participant === participant && p.lastKnownPresence === lastKnownPresence);

const lastReceived = (kind: ReceivedStanza['kind']) => async (): Promise<ReceivedStanza | undefined> =>
  (await admin<ReceivedStanza[]>('GET', `/contacts/${CONTACT}/received`)).filter((s) => s.kind === kind).at(-1);

describe('issue 4: NOWEB through the HTTP API against the sandbox', () => {
  let phone = '';
  let me = '';

  it('creates a session, pairs it by QR through the sandbox and reaches WORKING', async () => {
    const from = hooked().length;
    await api('POST', '/api/sessions', {
      name: SESSION,
      start: true,
      config: { webhooks: [{ url: receiver.url, events: ['presence.update', 'session.status'] }] },
    });
    const qr = await eventually(() => api<{ value: string }>('GET', `/api/${SESSION}/auth/qr?format=raw`), (body) => typeof body.value === 'string');
    const paired = await admin<{ phone: string }>('POST', '/scan', { qr: qr.value, name: 'E2E Phone' });
    phone = paired.phone;
    me = `${phone}@c.us`;
    await webhook(from, statusHook('WORKING'));
    const session = await api<{ status: string; me: { id: string; pushName: string } | null }>('GET', `/api/sessions/${SESSION}`);
    expect(session.status).toBe('WORKING');
    expect(session.me).toMatchObject({ id: me, pushName: 'E2E Phone' });
    expect(hooked().slice(from).filter((h) => h.event === 'session.status').map((h) => (h.payload as { status: string }).status))
      .toEqual(expect.arrayContaining(['SCAN_QR_CODE', 'WORKING']));
  });

  it('sets every presence, and the sandbox contact receives each stanza', async () => {
    await api('POST', `/api/${SESSION}/presence`, { presence: 'offline' });
    await eventually(lastReceived('presence'), (s) => s?.state === 'unavailable' && s.from === `${phone}@s.whatsapp.net`);
    await api('POST', `/api/${SESSION}/presence`, { presence: 'online' });
    await eventually(lastReceived('presence'), (s) => s?.state === 'available');
    for (const [presence, state] of [['typing', 'composing'], ['recording', 'recording'], ['paused', 'paused']] as const) {
      await api('POST', `/api/${SESSION}/presence`, { presence, chatId: CONTACT_ID });
      await eventually(lastReceived('chatstate'), (s) => s?.state === state && s.from === `${phone}@s.whatsapp.net`);
    }
    await api('POST', '/api/startTyping', { session: SESSION, chatId: CONTACT_ID });
    await eventually(lastReceived('chatstate'), (s) => s?.state === 'composing');
    await api('POST', '/api/stopTyping', { session: SESSION, chatId: CONTACT_ID });
    await eventually(lastReceived('chatstate'), (s) => s?.state === 'paused');
  });

  it('receives every presence kind from a contact, through GET and through the webhook', async () => {
    await api('POST', `/api/${SESSION}/presence/${CONTACT_ID}/subscribe`);
    const steps: [Record<string, string>, string][] = [
      [{ presence: 'online' }, 'online'],
      [{ presence: 'typing', chatId: me }, 'typing'],
      [{ presence: 'recording', chatId: me }, 'recording'],
      [{ presence: 'paused', chatId: me }, 'paused'],
      [{ presence: 'offline' }, 'offline'],
    ];
    for (const [input, expected] of steps) {
      const from = hooked().length;
      await admin('POST', `/contacts/${CONTACT}/presence`, input);
      await webhook(from, presenceHook(CONTACT_ID, CONTACT_ID, expected));
      const got = await api<ChatPresence>('GET', `/api/${SESSION}/presence/${CONTACT_ID}`);
      expect(got).toMatchObject({ id: CONTACT_ID, presences: [{ participant: CONTACT_ID, lastKnownPresence: expected }] });
    }
    const got = await api<ChatPresence>('GET', `/api/${SESSION}/presence/${CONTACT_ID}`);
    expect(got.presences[0]?.lastSeen).toBeGreaterThan(1_700_000_000);
  });

  it('receives presence from a group, one entry per participant', async () => {
    const { id: group } = await admin<{ id: string }>('POST', '/groups', { subject: 'E2E', participants: [me, CONTACT_ID, `${MEMBER}@c.us`] });
    await api('POST', `/api/${SESSION}/presence/${group}/subscribe`);
    let from = hooked().length;
    await admin('POST', `/contacts/${CONTACT}/presence`, { presence: 'typing', chatId: group });
    await webhook(from, presenceHook(group, CONTACT_ID, 'typing'));
    from = hooked().length;
    await admin('POST', `/contacts/${MEMBER}/presence`, { presence: 'recording', chatId: group });
    await webhook(from, presenceHook(group, `${MEMBER}@c.us`, 'recording'));
    const got = await api<ChatPresence>('GET', `/api/${SESSION}/presence/${group}`);
    expect([...got.presences].map((p) => [p.participant, p.lastKnownPresence]).sort()).toEqual([
      [CONTACT_ID, 'typing'],
      [`${MEMBER}@c.us`, 'recording'],
    ]);
  });

  it('reconnects after the sandbox drops the connection, and renews the subscriptions', async () => {
    const from = hooked().length;
    await admin('POST', `/accounts/${phone}/drop`);
    await webhook(from, statusHook('STARTING'));
    await webhook(from, statusHook('WORKING'));
    // The session layer re-subscribes stored subscriptions; the sandbox shows them on the new connection.
    await eventually(
      async () => (await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone)?.connections[0]?.subscriptions ?? [],
      (subs) => subs.includes(`${CONTACT}@s.whatsapp.net`),
    );
    const next = hooked().length;
    await admin('POST', `/contacts/${CONTACT}/presence`, { presence: 'online' });
    await webhook(next, presenceHook(CONTACT_ID, CONTACT_ID, 'online'));
  });

  it('resumes WORKING after a server restart without a new scan', async () => {
    await shutdown();
    const from = hooked().length;
    await boot();
    await webhook(from, statusHook('WORKING'));
    expect(hooked().slice(from).some(statusHook('SCAN_QR_CODE'))).toBe(false);
    const session = await api<{ status: string; me: { id: string } | null }>('GET', `/api/sessions/${SESSION}`);
    expect(session).toMatchObject({ status: 'WORKING', me: { id: me } });
  });

  it('logs out: STOPPED with why, credentials wiped, device unlinked, typing ended, and it stays stopped', async () => {
    await api('POST', `/api/${SESSION}/presence`, { presence: 'typing', chatId: CONTACT_ID });
    await eventually(lastReceived('chatstate'), (s) => s?.state === 'composing');
    const from = hooked().length;
    const after = await api<{ status: string; me: unknown; reason?: string }>('POST', `/api/sessions/${SESSION}/logout`);
    expect(after).toMatchObject({ status: 'STOPPED', me: null, reason: expect.stringMatching(/^Logged out/) as unknown });
    const stopped = await webhook(from, statusHook('STOPPED'));
    expect(stopped.payload).toMatchObject({ name: SESSION, status: 'STOPPED', reason: after.reason });
    expect((stopped.payload as { statuses: { status: string }[] }).statuses.at(-1)).toMatchObject({ status: 'STOPPED' });
    // The typing in progress was ended before the socket went.
    expect((await lastReceived('chatstate')())?.state).toBe('paused');
    expect(await storage.auth.forSession(SESSION).get('creds', [''])).toEqual({});
    // Baileys told the sandbox (remove-companion-device): the device is gone, not just offline.
    await eventually(
      async () => (await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone),
      (a) => a?.connections.length === 0 && a.devices.length === 0,
    );
    // It stays STOPPED: no new QR until someone starts it (WAHA would start it again at once).
    await server?.app.sessions.settled(SESSION);
    expect(await api<{ status: string }>('GET', `/api/sessions/${SESSION}`)).toMatchObject({ status: 'STOPPED' });
    expect(hooked().slice(from).filter((h) => h.event === 'session.status').map((h) => (h.payload as { status: string }).status)).toEqual(['STOPPED']);
    expect((await storage.sessions.get(SESSION))?.running).toBe(false);
    await expect(api('GET', `/api/${SESSION}/auth/qr?format=raw`)).rejects.toThrow(/HTTP 422/);
  });
});

describe('issue 4: linking by phone number (pairing code) through the HTTP API against the sandbox', () => {
  it('request-code, the code typed on the sandbox phone, WORKING as that number; a wrong code links nothing', async () => {
    const name = 'by-code';
    const phone = '4915550004444';
    const from = hooked().length;
    await api('POST', '/api/sessions', { name, config: { webhooks: [{ url: receiver.url, events: ['session.status'] }] } });
    await webhook(from, (hook) => hook.session === name && statusHook('SCAN_QR_CODE')(hook));
    const { code } = await api<{ code: string }>('POST', `/api/${name}/auth/request-code`, { phoneNumber: `+${phone}` });
    expect(code).toMatch(/^[1-9A-HJ-NP-TV-Z]{8}$/);
    const enter = async (typed: string): Promise<{ status: number; body: { message?: string; phone?: string } }> => {
      const response = await fetch(`${sandbox.adminUrl}/api/sandbox/link-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ phone, code: typed, name: 'By Code' }),
      });
      return { status: response.status, body: (await response.json()) as { message?: string } };
    };
    // request-code answers once WhatsApp's request is sent; the sandbox may read it a moment later (404 until then).
    const wrong = await eventually(() => enter(`${code.startsWith('A') ? 'B' : 'A'}${code.slice(1)}`), (outcome) => outcome.status !== 404);
    expect(wrong).toMatchObject({ status: 422, body: { message: expect.stringContaining('wrong code') as unknown } });
    expect((await api<{ status: string }>('GET', `/api/sessions/${name}`)).status).toBe('SCAN_QR_CODE');
    expect(await enter(code)).toMatchObject({ status: 200, body: { phone } });
    await webhook(from, (hook) => hook.session === name && statusHook('WORKING')(hook));
    const session = await api<{ status: string; me: { id: string; pushName: string } | null }>('GET', `/api/sessions/${name}`);
    expect(session).toMatchObject({ status: 'WORKING', me: { id: `${phone}@c.us`, pushName: 'By Code' } });
    // STARTING again between the two: WhatsApp ends the pairing stream with 515 and the engine logs in anew.
    expect(hooked().slice(from).filter((h) => h.session === name && h.event === 'session.status').map((h) => (h.payload as { status: string }).status))
      .toEqual(['STARTING', 'SCAN_QR_CODE', 'STARTING', 'WORKING']);
    const account = (await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone);
    expect(account?.devices.map((device) => device.id)).toEqual([1]);
    await api('DELETE', `/api/sessions/${name}`);
  });
});

/** Creates a session with the webhook, links it by QR through the sandbox and waits for WORKING; returns its phone. */
async function linkSession(name: string): Promise<string> {
  const from = hooked().length;
  await api('POST', '/api/sessions', { name, config: { webhooks: [{ url: receiver.url, events: ['session.status'] }] } });
  const qr = await eventually(() => api<{ value: string }>('GET', `/api/${name}/auth/qr?format=raw`), (body) => typeof body.value === 'string');
  const { phone } = await admin<{ phone: string }>('POST', '/scan', { qr: qr.value, name: `E2E ${name}` });
  await webhook(from, (hook) => hook.session === name && statusHook('WORKING')(hook));
  return phone;
}

interface SessionBody {
  readonly status: string;
  readonly reason?: string;
  readonly me: { id: string } | null;
}

/**
 * The session ended for good: its engine is gone (nothing left to reconnect), it is no longer one
 * that should run, and the webhook got exactly `statuses` since `from`, the last with `reason`.
 */
async function expectEnded(name: string, from: number, status: 'STOPPED' | 'FAILED', reason: RegExp): Promise<SessionBody> {
  const hook = await webhook(from, (h) => h.session === name && statusHook(status)(h));
  expect((hook.payload as { reason?: string }).reason).toMatch(reason);
  await server?.app.sessions.settled(name);
  expect(server?.app.sessions.hasEngine(name)).toBe(false);
  expect((await storage.sessions.get(name))?.running).toBe(false);
  const session = await api<SessionBody>('GET', `/api/sessions/${name}`);
  expect(session).toMatchObject({ status, reason: (hook.payload as { reason: string }).reason });
  expect(hooked().slice(from).filter((h) => h.session === name && h.event === 'session.status').map((h) => (h.payload as { status: string }).status)).toEqual([status]);
  return session;
}

describe('issue 4: closes that need a person, through the HTTP API against the sandbox', () => {
  it('replaced by a second login of the same credentials → FAILED saying so, no reconnect (it would replace the other in turn)', async () => {
    const phone = await linkSession('replaced');
    // A copy of the session's credentials logs in elsewhere: the sandbox replaces the session's stream.
    const stored = await storage.auth.forSession('replaced').get('creds', ['']);
    const creds = deserialise(stored[''] ?? '') as AuthenticationCreds;
    const from = hooked().length;
    const other = await connectClient(sandbox, { auth: { creds, keys: memoryKeyStore() }, scan: 'none' });
    try {
      await expectEnded('replaced', from, 'FAILED', /replaced this one.*Stop the other one, then start this session again/);
      // The other login keeps the device: the session did not come back to take it over.
      const account = (await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone);
      expect(account?.connections).toHaveLength(1);
      expect(other.sock.ws.isOpen).toBe(true);
      await expect(api('POST', '/api/replaced/presence', { presence: 'online' })).rejects.toThrow(/HTTP 422 .*replaced this one/);
    } finally {
      other.close();
    }
  });

  it('removed from Linked devices on the phone → STOPPED saying so, credentials and that login forgotten; starting again shows a new QR', async () => {
    const phone = await linkSession('removed');
    const from = hooked().length;
    await admin('POST', `/accounts/${phone}/devices/1/remove`);
    const session = await expectEnded('removed', from, 'STOPPED', /removed from Linked devices on the phone.*credentials were deleted/);
    expect(session.me).toBeNull();
    expect(await storage.auth.forSession('removed').get('creds', [''])).toEqual({});
    const again = hooked().length;
    await api('POST', '/api/sessions/removed/start');
    await webhook(again, (h) => h.session === 'removed' && statusHook('SCAN_QR_CODE')(h));
    await api('POST', '/api/sessions/removed/stop');
  });

  it('banned → FAILED with the 403 reason, no reconnect; starting while banned fails the same way at login, and works once unbanned', async () => {
    const phone = await linkSession('banned');
    let from = hooked().length;
    await admin('POST', `/accounts/${phone}/ban`);
    await expectEnded('banned', from, 'FAILED', /403: banned or restricted/);
    // The sandbox refuses the login itself with <failure reason=403>.
    from = hooked().length;
    await api('POST', '/api/sessions/banned/start');
    const hook = await webhook(from, (h) => h.session === 'banned' && statusHook('FAILED')(h));
    expect((hook.payload as { reason: string }).reason).toMatch(/403/);
    await server?.app.sessions.settled('banned');
    expect(server?.app.sessions.hasEngine('banned')).toBe(false);
    expect((await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone)?.connections).toEqual([]);
    await admin('POST', `/accounts/${phone}/unban`);
    from = hooked().length;
    await api('POST', '/api/sessions/banned/start');
    await webhook(from, (h) => h.session === 'banned' && statusHook('WORKING')(h));
    expect(await api<SessionBody>('GET', '/api/sessions/banned')).not.toHaveProperty('reason');
  });
});

describe('managing subscriptions (ours, not WAHA\'s) through the HTTP API against the sandbox', () => {
  it('an unsubscribed contact is not renewed after a reconnect; the one kept is', async () => {
    const name = 'watcher';
    const later = '4915550001003';
    await admin('POST', '/contacts', { phone: later, name: 'Later' });
    const phone = await linkSession(name);
    const connection = async (): Promise<AccountInfo['connections'][number] | undefined> =>
      (await admin<AccountInfo[]>('GET', '/accounts')).find((a) => a.phone === phone)?.connections[0];
    const jid = (number: string): string => `${number}@s.whatsapp.net`;

    await api('POST', `/api/${name}/presence/${CONTACT_ID}/subscribe`);
    await api('POST', `/api/${name}/presence/${MEMBER}@c.us/subscribe`);
    const first = await eventually(connection, (c) => c?.subscriptions.length === 2);
    expect(await api('DELETE', `/api/${name}/presence/${MEMBER}@c.us/subscribe`)).toEqual({ chatId: `${MEMBER}@c.us`, subscribed: false, removed: true });
    const listed = await api<{ chatId: string; since: number | null }[]>('GET', `/api/${name}/presence/subscriptions`);
    expect(listed.map((sub) => sub.chatId)).toEqual([CONTACT_ID]);
    expect(listed[0]?.since).toBeGreaterThan(1_700_000_000_000);
    // WhatsApp has no unsubscribe that Baileys sends: this connection keeps the subscription until it ends.
    expect((await connection())?.subscriptions.slice().sort()).toEqual([jid(CONTACT), jid(MEMBER)].sort());

    const from = hooked().length;
    await admin('POST', `/accounts/${phone}/drop`);
    await webhook(from, (h) => h.session === name && statusHook('STARTING')(h));
    await webhook(from, (h) => h.session === name && statusHook('WORKING')(h));
    await server?.app.sessions.settled(name);
    // The renewal has finished. A subscribe sent after it, once the sandbox shows it, proves that
    // every stanza of the renewal (sent before it on the same stream) has been handled too.
    await api('POST', `/api/${name}/presence/${later}@c.us/subscribe`);
    const renewed = await eventually(connection, (c) => c !== undefined && c.id !== first?.id && c.subscriptions.includes(jid(later)));
    expect(renewed?.subscriptions.slice().sort()).toEqual([jid(CONTACT), jid(later)].sort());
    await api('DELETE', `/api/sessions/${name}`);
  });
});

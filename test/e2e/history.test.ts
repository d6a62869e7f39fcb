import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import type { Server } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../src/sandbox/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { poll } from '../support/poll.js';
import { sandboxAdmin } from '../support/sandbox-admin.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';

/**
 * Issue 14 end to end: presence history through the real HTTP API, the real NOWEB engine and
 * SQLite, against an in-process sandbox driven through its admin API.
 */

const API_KEY = 'history-key';
const SESSION = 'hist';
const CONTACT = '4915550014001';
const MEMBER = '4915550014002';
const HIDDEN = '4915550014003';
const CONTACT_ID = `${CONTACT}@c.us`;
const MEMBER_ID = `${MEMBER}@c.us`;
const HIDDEN_ID = `${HIDDEN}@c.us`;
const logger = pino({ level: 'silent' });

let sandbox: Sandbox;
let storage: Storage;
let dataDir: string;
let server: { app: Server; base: string } | null = null;

interface Change {
  presence: string;
  at: number;
  lastSeen: number | null;
}
interface Interval {
  from: number;
  to: number;
  seconds: number;
  open: boolean;
}
interface ParticipantHistory {
  participant: string;
  changes: Change[];
  online: Interval[];
  onlineSeconds: number;
  gaps: { from: number; to: number }[];
}
interface ChatHistory {
  id: string;
  from: number;
  to: number;
  participants: ParticipantHistory[];
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string }> {
  if (server === null) throw new Error('server is not running');
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') ?? '' };
}

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const { status, text } = await call(method, path, body);
  if (status >= 300) throw new Error(`${method} ${path}: HTTP ${status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

function admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return sandboxAdmin<T>(sandbox.adminUrl, method, path, body);
}

/** Polls until `read` satisfies `holds`: history is written in the background, after the presence path. */
function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  return poll(read, holds, { timeoutMs, everyMs: 25, errors: 'retry' });
}

const history = (chatId: string, query = ''): Promise<ChatHistory> => api<ChatHistory>('GET', `/api/${SESSION}/presence/${chatId}/history${query}`);
const participant = (chat: ChatHistory, id: string): ParticipantHistory | undefined => chat.participants.find((entry) => entry.participant === id);
const presences = (entry: ParticipantHistory | undefined): string[] => entry?.changes.map((change) => change.presence) ?? [];
const status = async (): Promise<string> => (await api<{ status: string }>('GET', `/api/sessions/${SESSION}`)).status;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function boot(): Promise<void> {
  const config = loadConfig({ WHATSAPP_API_KEY: API_KEY, WA_PRESENCE_SANDBOX: sandbox.url, WA_PRESENCE_SANDBOX_AUTOPAIR: 'false' }, []);
  const engines = createNowebEngineFactory({
    network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY },
    logger,
    reconnect: { baseMs: 20, maxMs: 200 },
  });
  const app = await createServer(config, { storage, engines, logger, listen: { host: '127.0.0.1', port: 0 } });
  server = { app, base: await app.start() };
}

async function shutdown(): Promise<void> {
  const running = server;
  server = null;
  if (running === null) return;
  await running.app.close();
}

beforeAll(async () => {
  sandbox = await startSandbox({ autoPair: false });
  dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-history-e2e-'));
  storage = await openStorage({ dataDir, databaseUrl: null });
  await admin('POST', '/contacts', { phone: CONTACT, name: 'Contact' });
  await admin('POST', '/contacts', { phone: MEMBER, name: 'Member' });
  await admin('POST', '/contacts', { phone: HIDDEN, name: 'Hidden', lastSeenPrivacy: 'nobody' });
  await boot();
});
afterAll(async () => {
  await shutdown();
  await storage.close();
  await rm(dataDir, { recursive: true, force: true });
  await sandbox.close();
});

describe('issue 14: presence history against the sandbox', () => {
  let me = '';
  let group = '';
  let before: ChatHistory | null = null;

  it('refuses the history of a session with history off, saying how to turn it on', async () => {
    await api('POST', '/api/sessions', { name: 'off', start: false });
    const refused = await call('GET', `/api/off/presence/${CONTACT_ID}/history`);
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.text)).toMatchObject({ code: 'HISTORY_DISABLED', message: expect.stringContaining('presenceHistory.enabled') as unknown });
  });

  it('pairs a session with history on', async () => {
    await api('POST', '/api/sessions', { name: SESSION, start: true, config: { presenceHistory: { enabled: true, retentionDays: 7 } } });
    const qr = await eventually(() => api<{ value: string }>('GET', `/api/${SESSION}/auth/qr?format=raw`), (body) => typeof body.value === 'string');
    const paired = await admin<{ phone: string }>('POST', '/scan', { qr: qr.value, name: 'History Phone' });
    me = `${paired.phone}@c.us`;
    await eventually(status, (value) => value === 'WORKING');
    await api('POST', `/api/${SESSION}/presence/${CONTACT_ID}/subscribe`);
    await api('POST', `/api/${SESSION}/presence/${HIDDEN_ID}/subscribe`);
  });

  it('records a contact going online, typing, paused and offline, with plausible online intervals', async () => {
    // The subscribe pushes the current state (offline) first.
    await eventually(() => history(CONTACT_ID), (got) => presences(participant(got, CONTACT_ID)).length >= 1);
    for (const [input, expected] of [
      [{ presence: 'online' }, 'online'],
      [{ presence: 'typing', chatId: me }, 'typing'],
      [{ presence: 'paused', chatId: me }, 'paused'],
      [{ presence: 'offline' }, 'offline'],
      [{ presence: 'online' }, 'online'],
      [{ presence: 'offline' }, 'offline'],
    ] as const) {
      await admin('POST', `/contacts/${CONTACT}/presence`, input);
      await eventually(() => history(CONTACT_ID), (got) => presences(participant(got, CONTACT_ID)).at(-1) === expected);
      await pause(600);
    }
    const got = await history(CONTACT_ID);
    const entry = participant(got, CONTACT_ID);
    expect(presences(entry).slice(-6)).toEqual(['online', 'typing', 'paused', 'offline', 'online', 'offline']);
    expect(entry?.changes.at(-1)?.lastSeen).toBeGreaterThan(1_700_000_000);
    expect(entry?.online).toHaveLength(2);
    const [first, second] = entry?.online ?? [];
    // Online for three steps of ~0.6 s, then for one; lastSeen is whole seconds, so allow a second either way.
    expect(first?.seconds).toBeGreaterThan(0.5);
    expect(first?.seconds).toBeLessThan(5);
    expect(second?.seconds).toBeLessThan(3);
    expect(first?.open).toBe(false);
    expect(entry?.onlineSeconds).toBeCloseTo((first?.seconds ?? 0) + (second?.seconds ?? 0), 3);
    // ?gap merges the two intervals (separated by about 0.6 s).
    const merged = participant(await history(CONTACT_ID, '?gap=30'), CONTACT_ID);
    expect(merged?.online).toHaveLength(1);
    before = got;
  });

  it('handles a hidden last seen: the interval ends when the offline arrived', async () => {
    await admin('POST', `/contacts/${HIDDEN}/presence`, { presence: 'online' });
    await eventually(() => history(HIDDEN_ID), (got) => presences(participant(got, HIDDEN_ID)).at(-1) === 'online');
    await pause(800);
    await admin('POST', `/contacts/${HIDDEN}/presence`, { presence: 'offline' });
    const got = await eventually(() => history(HIDDEN_ID), (value) => presences(participant(value, HIDDEN_ID)).at(-1) === 'offline');
    const entry = participant(got, HIDDEN_ID);
    const offline = entry?.changes.at(-1);
    expect(offline?.lastSeen).toBeNull();
    expect(entry?.online.at(-1)?.to).toBe(offline?.at);
    expect(entry?.online.at(-1)?.seconds).toBeGreaterThan(0.7);
  });

  it('gives each participant of a group its own timeline', async () => {
    ({ id: group } = await admin<{ id: string }>('POST', '/groups', { subject: 'History', participants: [me, CONTACT_ID, MEMBER_ID] }));
    await api('POST', `/api/${SESSION}/presence/${group}/subscribe`);
    await admin('POST', `/contacts/${CONTACT}/presence`, { presence: 'typing', chatId: group });
    await admin('POST', `/contacts/${MEMBER}/presence`, { presence: 'recording', chatId: group });
    const got = await eventually(
      () => history(group),
      (value) => presences(participant(value, CONTACT_ID)).includes('typing') && presences(participant(value, MEMBER_ID)).includes('recording'),
    );
    expect(presences(participant(got, CONTACT_ID))).not.toContain('recording');
    expect(presences(participant(got, MEMBER_ID))).not.toContain('typing');
    const only = await history(group, `?participant=${MEMBER_ID}`);
    expect(only.participants.map((entry) => entry.participant)).toEqual([MEMBER_ID]);
  });

  it('records a gap while the session was stopped, and claims no interval across it', async () => {
    await admin('POST', `/contacts/${CONTACT}/presence`, { presence: 'online' });
    await eventually(() => history(CONTACT_ID), (got) => presences(participant(got, CONTACT_ID)).at(-1) === 'online');
    const stoppedAt = Date.now() / 1000;
    await api('POST', `/api/sessions/${SESSION}/stop`);
    await pause(1500);
    await api('POST', `/api/sessions/${SESSION}/start`);
    await eventually(status, (value) => value === 'WORKING');
    // Until the start is recorded, the open gap is shown up to the end of the range (now).
    const got = await eventually(() => history(CONTACT_ID), (value) => {
      const last = participant(value, CONTACT_ID)?.gaps.at(-1);
      return last !== undefined && last.to - last.from > 1.4;
    });
    const entry = participant(got, CONTACT_ID);
    const gap = entry?.gaps.at(-1);
    expect(gap?.from).toBeGreaterThan(stoppedAt - 1);
    expect((gap?.to ?? 0) - (gap?.from ?? 0)).toBeLessThan(15);
    // The online interval before the stop ends where the gap begins.
    expect(entry?.online.some((made) => made.to === gap?.from && !made.open)).toBe(true);
  });

  it('answers the same history after a server restart, with the restart as a gap', async () => {
    const earlier = await history(CONTACT_ID, `?from=${before?.from ?? 0}&to=${before?.to ?? 0}`);
    await shutdown();
    await boot();
    await eventually(status, (value) => value === 'WORKING');
    const again = await history(CONTACT_ID, `?from=${before?.from ?? 0}&to=${before?.to ?? 0}`);
    expect(participant(again, CONTACT_ID)?.changes).toEqual(participant(earlier, CONTACT_ID)?.changes);
    const now = await eventually(() => history(CONTACT_ID), (value) => (participant(value, CONTACT_ID)?.gaps.length ?? 0) >= 2);
    expect(participant(now, CONTACT_ID)?.gaps.at(-1)?.to).toBeGreaterThan(participant(now, CONTACT_ID)?.gaps.at(-1)?.from ?? Infinity);
  });

  it('summarises every chat and participant, and exports as CSV and NDJSON', async () => {
    const summary = await api<{ summaries: { chatId: string; participant: string; intervals: number; onlineSeconds: number }[] }>('GET', `/api/${SESSION}/presence/history`);
    const contact = summary.summaries.find((entry) => entry.chatId === CONTACT_ID && entry.participant === CONTACT_ID);
    expect(contact?.intervals).toBeGreaterThanOrEqual(3);
    expect(summary.summaries.some((entry) => entry.chatId === group && entry.participant === MEMBER_ID)).toBe(true);
    const csv = await call('GET', `/api/${SESSION}/presence/${CONTACT_ID}/history`, undefined, { accept: 'text/csv' });
    expect(csv.type).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('session,chatId,participant,presence,at,lastSeen');
    expect(lines.slice(1).every((line) => line.startsWith(`${SESSION},${CONTACT_ID},${CONTACT_ID},`))).toBe(true);
    const ndjson = await call('GET', `/api/${SESSION}/presence/history`, undefined, { accept: 'application/x-ndjson' });
    const rows = ndjson.text.trim().split('\n').map((line) => JSON.parse(line) as { chatId: string });
    expect([...new Set(rows.map((row) => row.chatId))]).toEqual(expect.arrayContaining([CONTACT_ID, HIDDEN_ID, group]));
  });

  it('refuses bad input with what to fix', async () => {
    const cases: [string, number, string][] = [
      [`/api/${SESSION}/presence/${CONTACT_ID}/history?from=200&to=100`, 400, 'INVALID_HISTORY_RANGE'],
      [`/api/${SESSION}/presence/${CONTACT_ID}/history?from=0&to=${40 * 86_400}`, 400, 'INVALID_HISTORY_RANGE'],
      [`/api/${SESSION}/presence/not-a-chat/history`, 400, 'INVALID_CHAT_ID'],
      [`/api/${SESSION}/presence/${CONTACT_ID}/history?gap=-1`, 400, 'VALIDATION_FAILED'],
      [`/api/nobody/presence/${CONTACT_ID}/history`, 404, 'SESSION_NOT_FOUND'],
    ];
    for (const [path, expected, code] of cases) {
      const got = await call('GET', path);
      expect([path, got.status, (JSON.parse(got.text) as { code: string }).code]).toEqual([path, expected, code]);
    }
  });

  it('forgets a chat on DELETE', async () => {
    const removed = await api<{ deleted: number }>('DELETE', `/api/${SESSION}/presence/${CONTACT_ID}/history`);
    expect(removed.deleted).toBeGreaterThan(5);
    expect(participant(await history(CONTACT_ID), CONTACT_ID)).toBeUndefined();
    expect(participant(await history(group), MEMBER_ID)).toBeDefined();
  });

  it('forgets the history with the session', async () => {
    await api('DELETE', `/api/sessions/${SESSION}`);
    expect(await storage.history.range({ session: SESSION, chatId: group, from: 0, to: Number.MAX_SAFE_INTEGER })).toEqual([]);
    expect(await storage.history.gaps(SESSION, 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { pino } from 'pino';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server.js';
import type { Server } from '../../src/server.js';
import { loadConfig } from '../../src/config.js';
import { createNowebEngineFactory } from '../../src/engines/noweb/index.js';
import { SANDBOX_ROOT_PUBLIC_KEY, startSandbox } from '../../src/sandbox/index.js';
import type { ReceivedStanza, Sandbox } from '../../src/sandbox/index.js';
import { poll } from '../support/poll.js';
import { sandboxAdmin } from '../support/sandbox-admin.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/index.js';
import { WAHA_DOCUMENT_URL, wahaErrors, webhookSchema } from '../compat/waha-document.js';
import { ReceiverDouble } from '../events/receiver-double.js';

/**
 * Issue 12 end to end: a client generated from WAHA's own OpenAPI document by openapi-typescript
 * (types, generated here into a temporary folder and type-checked with the calls below) and
 * openapi-fetch (the requests), against the real server, the real NOWEB engine and the sandbox.
 */

const API_KEY = 'waha-client-key';
const SESSION = 'wahaclient';
const CONTACT = '4915550002001';
const CONTACT_ID = `${CONTACT}@c.us`;
const logger = pino({ level: 'silent' });
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The client's code, compiled against the generated types: every path, parameter and body below
 * must be what WAHA's document defines, or the type check in beforeAll fails. Optional fields are
 * sent as null where WAHA's generated models would. The two casts are WAHA's document's: it types
 * webhook events and metadata as empty objects (Nest's output), where WAHA takes strings.
 */
const CLIENT_SOURCE = `
import createClient from 'openapi-fetch';
import type { components, paths } from './waha.js';

type Schemas = components['schemas'];

export function wahaClient(baseUrl: string, apiKey: string, webhookUrl: string, session: string, chatId: string) {
  const client = createClient<paths>({ baseUrl, headers: { 'X-Api-Key': apiKey } });
  const path = { session };
  const create: Schemas['SessionCreateRequest'] = {
    name: session,
    start: true,
    apps: null,
    config: { webhooks: [{ url: webhookUrl, events: ['session.status', 'presence.update'] as unknown as Record<string, never>[], retries: { attempts: 3 } }], metadata: { 'user.id': '42' } as unknown as Record<string, never> },
  };
  const online: Schemas['WAHASessionPresence'] = { presence: 'online' };
  const typing: Schemas['ChatRequest'] = { session, chatId };
  return {
    ping: () => client.GET('/ping'),
    version: () => client.GET('/api/server/version'),
    create: () => client.POST('/api/sessions', { body: create }),
    list: () => client.GET('/api/sessions', { params: { query: { all: true } } }),
    get: () => client.GET('/api/sessions/{session}', { params: { path } }),
    me: () => client.GET('/api/sessions/{session}/me', { params: { path } }),
    qr: () => client.GET('/api/{session}/auth/qr', { params: { path, query: { format: 'raw' } } }),
    online: () => client.POST('/api/{session}/presence', { params: { path }, body: { ...online, chatId: null as unknown as string } }),
    startTyping: () => client.POST('/api/startTyping', { body: typing }),
    stopTyping: () => client.POST('/api/stopTyping', { body: typing }),
    subscribe: () => client.POST('/api/{session}/presence/{chatId}/subscribe', { params: { path: { session, chatId } } }),
    presence: () => client.GET('/api/{session}/presence/{chatId}', { params: { path: { session, chatId } } }),
    stop: () => client.POST('/api/sessions/{session}/stop', { params: { path } }),
    remove: () => client.DELETE('/api/sessions/{session}', { params: { path } }),
  };
}
`;

/** The generated client as this file sees it (its real types live in the generated folder, checked there). */
type Call = () => Promise<{ readonly data?: unknown; readonly response: Response }>;
type WahaClient = Readonly<Record<'ping' | 'version' | 'create' | 'list' | 'get' | 'me' | 'qr' | 'online' | 'startTyping' | 'stopTyping' | 'subscribe' | 'presence' | 'stop' | 'remove', Call>>;
interface ClientModule {
  wahaClient(baseUrl: string, apiKey: string, webhookUrl: string, session: string, chatId: string): WahaClient;
}

let sandbox: Sandbox | undefined;
let receiver: ReceiverDouble;
let storage: Storage | undefined;
let dataDir: string | undefined;
let generated: string | undefined;
let server: { app: Server; base: string } | undefined;
let client: WahaClient;

/** WAHA's document as openapi-typescript reads it: it refuses an enum typed `object` (Nest's way for enums), a string enum in fact. */
function asOpenApiTypescriptReadsIt(document: unknown): unknown {
  const fix = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(fix);
    else if (typeof value === 'object' && value !== null) {
      const node = value as Record<string, unknown>;
      if (node['type'] === 'object' && Array.isArray(node['enum'])) node['type'] = 'string';
      Object.values(node).forEach(fix);
    }
  };
  fix(document);
  return document;
}

function admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  if (sandbox === undefined) throw new Error('the sandbox is not running');
  return sandboxAdmin<T>(sandbox.adminUrl, method, path, body);
}

/** Polls the sandbox (it has no push channel to the test); webhooks are awaited instead. */
function eventually<T>(read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  return poll(read, holds, { timeoutMs, everyMs: 20 });
}

interface Hooked {
  readonly event: string;
  readonly payload: { readonly status?: string; readonly id?: string; readonly presences?: readonly { lastKnownPresence: string }[] };
}

async function webhook(from: number, match: (hook: Hooked) => boolean): Promise<Hooked> {
  const found = (): Hooked | undefined => (receiver.delivered() as Hooked[]).slice(from).find(match);
  const timeout = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`no matching webhook; got ${JSON.stringify(receiver.delivered().slice(from))}`)), 10_000).unref();
  });
  await Promise.race([receiver.waitFor(() => found() !== undefined), timeout]);
  const hook = found();
  if (hook === undefined) throw new Error('unreachable');
  return hook;
}

const lastReceived = (kind: ReceivedStanza['kind']) => async (): Promise<ReceivedStanza | undefined> =>
  (await admin<ReceivedStanza[]>('GET', `/contacts/${CONTACT}/received`)).filter((s) => s.kind === kind).at(-1);

beforeAll(async () => {
  // Generate the client's types from WAHA's document, and type-check the client's calls against them
  // (defaultNonNullable: false — a field with a default is optional in a request, as WAHA means it).
  await mkdir(join(ROOT, '.tmp'), { recursive: true });
  generated = await mkdtemp(join(ROOT, '.tmp', 'waha-client-'));
  const document = asOpenApiTypescriptReadsIt(JSON.parse(await readFile(WAHA_DOCUMENT_URL, 'utf8')));
  await writeFile(join(generated, 'waha.ts'), astToString(await openapiTS(document as Parameters<typeof openapiTS>[0], { defaultNonNullable: false })));
  await writeFile(join(generated, 'client.ts'), CLIENT_SOURCE);
  const program = ts.createProgram([join(generated, 'client.ts')], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const at = d.file === undefined || d.start === undefined ? '' : `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `;
    return `${at}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  expect(problems, 'the client does not type-check against the types generated from WAHA\'s document').toEqual([]);
  const module = (await import(join(generated, 'client.ts'))) as ClientModule;

  sandbox = await startSandbox({ autoPair: false });
  receiver = new ReceiverDouble();
  await receiver.start();
  dataDir = await mkdtemp(join(ROOT, '.tmp', 'waha-client-data-'));
  storage = await openStorage({ dataDir, databaseUrl: null });
  await admin('POST', '/contacts', { phone: CONTACT, name: 'Contact' });
  const config = loadConfig({ WHATSAPP_API_KEY: API_KEY, WA_PRESENCE_SANDBOX: sandbox.url, WA_PRESENCE_SANDBOX_AUTOPAIR: 'false' }, []);
  const engines = createNowebEngineFactory({ network: { kind: 'sandbox', url: sandbox.url, rootPublicKey: SANDBOX_ROOT_PUBLIC_KEY }, logger, reconnect: { baseMs: 20, maxMs: 200 } });
  const app = await createServer(config, { storage, engines, logger, listen: { host: '127.0.0.1', port: 0 } });
  server = { app, base: await app.start() };
  client = module.wahaClient(server.base, API_KEY, receiver.url, SESSION, CONTACT_ID);
}, 120_000);

afterAll(async () => {
  // beforeAll may have stopped half-way (a type error in the client): undo what it did.
  await server?.app.close();
  await storage?.close();
  await receiver?.stop();
  await sandbox?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  if (generated !== undefined) await rm(generated, { recursive: true, force: true });
});

describe('issue 12: a client generated from WAHA\'s document, against the sandbox', () => {
  let phone = '';

  it('finds the server where WAHA clients look: /ping and /api/server/version', async () => {
    expect((await client.ping()).data).toEqual({ message: 'pong' });
    const version = await client.version();
    expect(version.response.status).toBe(200);
    expect(version.data).toMatchObject({ engine: 'NOWEB', tier: 'CORE', worker: { id: expect.any(String) as string } });
  });

  it('creates a session with a webhook, pairs it by QR and reaches WORKING, told by the webhook', async () => {
    const from = receiver.delivered().length;
    const created = await client.create();
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ name: SESSION, config: { webhooks: [{ retries: { attempts: 3 } }] } });
    const qr = await eventually(() => client.qr(), (answer) => answer.response.status === 200);
    const value = (qr.data as { value?: string } | undefined)?.value ?? '';
    phone = (await admin<{ phone: string }>('POST', '/scan', { qr: value, name: 'WAHA Client Phone' })).phone;
    const working = await webhook(from, (hook) => hook.event === 'session.status' && hook.payload.status === 'WORKING');
    expect(working).toMatchObject({ session: SESSION, metadata: { 'user.id': '42' }, engine: 'NOWEB', payload: { name: SESSION, status: 'WORKING' } });
    // The whole envelope is WAHA's WAHAWebhookSessionStatus (environment, statuses and all).
    expect(wahaErrors(webhookSchema('session.status'), working)).toEqual([]);
    const session = await client.get();
    expect(session.data).toMatchObject({ name: SESSION, status: 'WORKING', presence: {}, timestamps: {}, me: { id: `${phone}@c.us`, pushName: 'WAHA Client Phone' } });
    // WAHA's MeInfo.jid: the account's id with this device's number.
    expect((session.data as { me?: { jid?: string } }).me?.jid).toMatch(new RegExp(`^${phone}:\\d+@s\\.whatsapp\\.net$`));
    expect(((await client.list()).data as { name: string }[]).map((s) => s.name)).toContain(SESSION);
    expect((await client.me()).data).toMatchObject({ id: `${phone}@c.us` });
  });

  it('sets presence and types: the sandbox contact receives each', async () => {
    expect((await client.online()).response.status).toBe(201);
    await eventually(lastReceived('presence'), (s) => s?.state === 'available' && s.from === `${phone}@s.whatsapp.net`);
    expect((await client.startTyping()).response.status).toBe(201);
    await eventually(lastReceived('chatstate'), (s) => s?.state === 'composing');
    expect((await client.stopTyping()).response.status).toBe(201);
    await eventually(lastReceived('chatstate'), (s) => s?.state === 'paused');
  });

  it("subscribes to a contact and gets its presence by GET and by WAHA's presence.update webhook", async () => {
    expect((await client.subscribe()).response.status).toBe(201);
    const from = receiver.delivered().length;
    await admin('POST', `/contacts/${CONTACT}/presence`, { presence: 'online' });
    const hook = await webhook(from, (h) => h.event === 'presence.update' && h.payload.id === CONTACT_ID && h.payload.presences?.[0]?.lastKnownPresence === 'online');
    // The payload is WAHA's WAHAChatPresences, the envelope WAHA's WAHAWebhookPresenceUpdate.
    expect(wahaErrors({ $ref: '#/components/schemas/WAHAChatPresences' }, hook.payload)).toEqual([]);
    expect(wahaErrors(webhookSchema('presence.update'), hook)).toEqual([]);
    const presence = await client.presence();
    expect(presence.data).toMatchObject({ id: CONTACT_ID, presences: [{ participant: CONTACT_ID, lastKnownPresence: 'online' }] });
  });

  it('stops and deletes the session, and deleting it again is fine (idempotent, as WAHA)', async () => {
    expect((await client.stop()).data).toMatchObject({ status: 'STOPPED' });
    expect((await client.remove()).response.status).toBe(200);
    expect((await client.remove()).response.status).toBe(200);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { ReceiverDouble } from '../events/receiver-double.js';
import { startServerProcess } from './server-process.js';
import type { ServerProcess } from './server-process.js';
import { POSTGRES_AVAILABLE, TEST_DATABASE_URL } from '../support/postgres.js';
import { poll } from '../support/poll.js';

/**
 * Issue 7's cluster test: one sandbox (in this process), PostgreSQL in a fresh schema, three
 * server processes, 30 sessions spread over them, a contact changing presence in a loop while a
 * webhook receiver records event ids; one server SIGKILLed, then another SIGSTOPped past its leases.
 */

const DATABASE_URL = TEST_DATABASE_URL;
const API_KEY = 'cluster-test-key';
const SESSIONS = 30;
const CONTACT = '15559990001';
/** The default lease (src/config.ts): the servers below run with the default lease and heartbeat. */
const LEASE_TTL_MS = 4000;

let sandbox: Sandbox;
let receiver: ReceiverDouble;
let db: pg.Client;
let dataDir: string;
const schema = `cluster_test_${randomBytes(5).toString('hex')}`;
const servers: ServerProcess[] = [];
const names = Array.from({ length: SESSIONS }, (_, i) => `c${String(i).padStart(2, '0')}`);

/** Per device (`phone:device`), how many connections it has now; every moment one had two is recorded. */
const connections = new Map<string, number>();
const doubleConnections: { device: string; at: number }[] = [];

let presenceLoop: NodeJS.Timeout | null = null;

/** No keep-alive: a reused socket that a starved server closed meanwhile would fail a non-idempotent POST. */
const noKeepAlive = new Agent({ pipelining: 0 });

async function api<T>(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await request(`${server.url}${path}`, {
    method: method as 'GET',
    dispatcher: noKeepAlive,
    headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: (text === '' ? null : JSON.parse(text)) as T };
}

/** Polls until `read` satisfies `holds` (server state has no push channel to this test besides webhooks). */
function eventually<T>(what: string, read: () => Promise<T>, holds: (value: T) => boolean, timeoutMs: number): Promise<T> {
  return poll(read, holds, { what, timeoutMs, everyMs: 250, errors: 'retry' });
}

async function owners(): Promise<Map<string, string>> {
  const { rows } = await db.query<{ session: string; owner: string }>(
    `SELECT session, owner FROM ${schema}.leases WHERE owner IS NOT NULL AND expires_at > $1`,
    [Date.now()],
  );
  return new Map(rows.map((row) => [row.session, row.owner]));
}

interface Hook {
  readonly id: string;
  readonly event: string;
  readonly session: string;
  readonly payload: { readonly status?: string };
}
const hooks = (): Hook[] => receiver.delivered() as Hook[];

function env(id: string): Record<string, string> {
  return {
    // application_name tells the audit trigger which server wrote.
    WA_PRESENCE_DATABASE_URL: `${DATABASE_URL}?application_name=${id}`,
    WA_PRESENCE_DATABASE_SCHEMA: schema,
    WA_PRESENCE_DATA_DIR: dataDir,
    WA_PRESENCE_SANDBOX: sandbox.url,
    WA_PRESENCE_SANDBOX_AUTOPAIR: 'false',
    WA_PRESENCE_DELIVERY_LEASE_MS: '3000',
    WHATSAPP_API_KEY: API_KEY,
    WHATSAPP_API_HOSTNAME: '127.0.0.1',
    WHATSAPP_HOOK_URL: receiver.url,
    WHATSAPP_HOOK_EVENTS: 'session.status,presence.update',
    WHATSAPP_HOOK_RETRIES_DELAY_SECONDS: '0',
    // Warnings only: 30 sessions' info lines through three pipes cost this 2-core machine dearly.
    WAHA_LOG_LEVEL: 'warn',
  };
}

const ENABLED = process.env.WA_PRESENCE_CLUSTER_TEST !== '0' && POSTGRES_AVAILABLE;

beforeAll(async () => {
  if (!ENABLED) return;
  sandbox = await startSandbox({ autoPair: false });
  // Count live connections per device: the proof that no session ever ran on two servers at once.
  const host = sandbox.network.host;
  const attach = host.attach.bind(host);
  const detach = host.detach.bind(host);
  host.attach = (peer) => {
    const device = `${peer.account.phone}:${peer.device.id}`;
    const now = (connections.get(device) ?? 0) + 1;
    connections.set(device, now);
    if (now > 1) doubleConnections.push({ device, at: Date.now() });
    attach(peer);
  };
  host.detach = (peer) => {
    const device = `${peer.account.phone}:${peer.device.id}`;
    connections.set(device, (connections.get(device) ?? 1) - 1);
    detach(peer);
  };
  await sandbox.network.createContact({ phone: CONTACT, name: 'Contact' });
  receiver = new ReceiverDouble();
  await receiver.start();
  dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-cluster-'));
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();

  servers.push(...(await Promise.all(['s1', 's2', 's3'].map((id) => startServerProcess(id, env(id), 120_000)))));
  // The servers created the schema: audit every credential write with who wrote it and who
  // held the lease at that moment.
  await db.query(`
    CREATE TABLE ${schema}.auth_audit (writer text, session text, owner text, epoch bigint, at timestamptz DEFAULT clock_timestamp());
    CREATE FUNCTION ${schema}.audit_auth() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE s text := COALESCE(NEW.session, OLD.session);
      BEGIN
        INSERT INTO ${schema}.auth_audit (writer, session, owner, epoch)
        SELECT current_setting('application_name'), s, l.owner, l.epoch FROM ${schema}.leases l WHERE l.session = s
        UNION ALL SELECT current_setting('application_name'), s, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM ${schema}.leases WHERE session = s);
        RETURN NULL;
      END $$;
    CREATE TRIGGER audit_auth AFTER INSERT OR UPDATE OR DELETE ON ${schema}.auth_keys FOR EACH ROW EXECUTE FUNCTION ${schema}.audit_auth();
  `);
}, 150_000);

afterAll(async () => {
  if (!ENABLED) return;
  if (presenceLoop !== null) clearInterval(presenceLoop);
  for (const server of servers) {
    server.child.kill('SIGCONT');
    await server.kill('SIGKILL');
  }
  await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db?.end();
  await receiver?.stop();
  await sandbox?.close();
  await noKeepAlive.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

function server(id: string): ServerProcess {
  const found = servers.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no server ${id}`);
  return found;
}

// In npm test; WA_PRESENCE_CLUSTER_TEST=0 skips it. Three server processes and 30 Baileys sessions
// take about 60 s on a quiet 2-core machine; with the default lease (5 s) and heartbeat (1 s) the
// killed server's sessions are WORKING elsewhere within issue 18's 8 s (under heavy load, average
// 18, session starts slow down past it).
describe.runIf(ENABLED)('three servers on one PostgreSQL', () => {
  it('spread 30 sessions, survive a SIGKILLed server within 8 s with the default lease, and deliver every event', async () => {
    // Each server is asked to create a third of the sessions: it takes them itself.
    // Three at a time (one per server): 2 cores cannot generate 30 sets of keys at once and heartbeat.
    const created: number[] = [];
    for (let i = 0; i < SESSIONS; i += 3) {
      const round = await Promise.all([0, 1, 2].map((j) => api(servers[j]!, 'POST', '/api/sessions', { name: names[i + j] })));
      created.push(...round.map((response) => response.status));
    }
    expect(created).toEqual(names.map(() => 201));

    // Pair every session: the QR is asked of any server (forwarded to the owner) and scanned in the sandbox.
    const pair = async (name: string, i: number): Promise<void> => {
      // A QR can expire, or its connection drop, before the scan lands: ask again then.
      await eventually(
        `pairing of ${name}`,
        async () => {
          const qr = await api<{ value: string }>(servers[(i + 1) % 3]!, 'GET', `/api/${name}/auth/qr?format=raw`);
          if (qr.status !== 200) return false;
          await sandbox.network.scan({ qr: qr.body.value });
          return true;
        },
        (paired) => paired,
        30_000,
      );
    };
    // One at a time: pairing uploads pre-keys, the heaviest step of a session's life; on a loaded
    // 2-core machine a burst of them starves the heartbeats past a short test TTL.
    for (const [i, name] of names.entries()) await pair(name, i);
    await eventually(
      'every session WORKING',
      () => Promise.all(names.map((name, i) => api<{ status: string }>(servers[i % 3]!, 'GET', `/api/sessions/${name}`))),
      (responses) => responses.every((response) => response.body.status === 'WORKING'),
      30_000,
    );
    const spread = await owners();
    const perServer = ['s1', 's2', 's3'].map((id) => [...spread.values()].filter((owner) => owner === id).length);
    expect(perServer).toEqual([10, 10, 10]);

    // Subscribe each session to the contact (through a server that does not run it) and let the contact talk.
    for (const [i, name] of names.entries()) {
      const response = await api(servers[(i + 2) % 3]!, 'POST', `/api/${name}/presence/${CONTACT}@c.us/subscribe`);
      expect(response.status).toBe(201);
    }
    let online = false;
    presenceLoop = setInterval(() => {
      online = !online;
      void sandbox.network.setContactPresence(CONTACT, { presence: online ? 'online' : 'offline' });
    }, 150);
    const presenceOf = (from: number, session: string): boolean =>
      hooks().slice(from).some((hook) => hook.event === 'presence.update' && hook.session === session);
    await receiver.waitFor(() => names.every((name) => presenceOf(0, name)));

    // SIGKILL s1: its sessions must be WORKING elsewhere within 10 s, with their subscriptions renewed.
    const victims = names.filter((name) => spread.get(name) === 's1');
    const killedAt = Date.now();
    await server('s1').kill('SIGKILL');
    const mark = receiver.requests.length;
    await eventually(
      "s1's sessions WORKING on s2 and s3",
      async () => {
        const now = await owners();
        const statuses = await Promise.all(victims.map((name) => api<{ status: string }>(server('s2'), 'GET', `/api/sessions/${name}`)));
        return victims.every((name, i) => ['s2', 's3'].includes(now.get(name) ?? '') && statuses[i]?.body.status === 'WORKING');
      },
      (done) => done,
      10_000,
    );
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThan(8_000);
    await receiver.waitFor(() => victims.every((name) => presenceOf(mark, name)));

    // Every event accepted by any server (the killed one too) reaches the receiver at least once.
    clearInterval(presenceLoop);
    presenceLoop = null;
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM ${schema}.outbox_events`);
    expect(rows.length).toBeGreaterThan(SESSIONS * 3);
    const missing = (): string[] => {
      const got = new Set(receiver.deliveredIds());
      return rows.map((row) => row.id).filter((id) => !got.has(id));
    };
    await eventually('every event id delivered', () => Promise.resolve(missing()), (left) => left.length === 0, 15_000);

    // No device ever had two connections: no session ran on two servers at once.
    expect(doubleConnections).toEqual([]);
    const writes = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.auth_audit WHERE writer IS DISTINCT FROM owner`);
    expect(Number(writes.rows[0]?.n)).toBe(0);
    console.info(`cluster failover: ${victims.length} sessions WORKING elsewhere ${failoverMs} ms after SIGKILL`);
  }, 150_000);

  it('a server paused past its leases (SIGSTOP, SIGCONT) stops its sessions and never writes with its stale epoch', async () => {
    const before = await owners();
    const paused = server('s2');
    const theirs = [...before].filter(([, owner]) => owner === 's2').map(([name]) => name);
    expect(theirs.length).toBeGreaterThan(0);
    const stoppedAt = new Date();
    paused.child.kill('SIGSTOP');
    await eventually(
      "s2's sessions WORKING on s3",
      async () => {
        const now = await owners();
        const statuses = await Promise.all(theirs.map((name) => api<{ status: string }>(server('s3'), 'GET', `/api/sessions/${name}`)));
        return theirs.every((name, i) => now.get(name) === 's3' && statuses[i]?.body.status === 'WORKING');
      },
      (done) => done,
      45_000,
    );
    // s3 writes keys under the new epochs while s2 sleeps; s2 wakes with its engines still open.
    paused.child.kill('SIGCONT');
    await paused.waitForLog((line) => line.msg === 'stopping sessions whose lease this server lost', 10_000);
    // One more heartbeat of s2 and s3 after the wake-up, then look at every credential write.
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS / 4 + 500));
    const stale = await db.query<{ writer: string; session: string; owner: string | null }>(
      `SELECT writer, session, owner FROM ${schema}.auth_audit WHERE writer IS DISTINCT FROM owner AND at >= $1`,
      [stoppedAt],
    );
    expect(stale.rows).toEqual([]);
    const after = await owners();
    for (const name of theirs) expect(after.get(name)).toBe('s3');
    const statuses = await Promise.all(theirs.map((name) => api<{ status: string }>(server('s3'), 'GET', `/api/sessions/${name}`)));
    expect(statuses.map((response) => response.body.status)).toEqual(theirs.map(() => 'WORKING'));
  }, 90_000);
});

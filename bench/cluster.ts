/**
 * Several-servers benchmark: `npx tsx bench/cluster.ts [--sessions 30] [--servers 3] [--ttl <ms>]` (the
 * servers run the default lease and heartbeat unless `--ttl` is given; WA_PRESENCE_START_CONCURRENCY,
 * WA_PRESENCE_HEARTBEAT_MS and WA_PRESENCE_REBALANCE set for the benchmark are passed on to them). Every session is created
 * through the first server; placement spreads them. Prints the spread, the moves the rebalancer
 * makes in the 10 s after all are WORKING, then SIGKILLs the busiest server.
 * (PostgreSQL at 127.0.0.1:5432, database `test`; a fresh schema, dropped at the end).
 *
 * 1. Memory: RSS of each server process before and after its sessions are WORKING, so MB per
 *    session and the sessions one server holds within a memory budget (1 GiB).
 * 2. Failover: one server SIGKILLed; time until every session it ran is WORKING on another.
 *
 * Outbox throughput and p99 on PostgreSQL beside SQLite: `npx tsx bench/events.ts --pg postgres://…`
 * (the events benchmark runs both backends in one run; not duplicated here).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { Agent, request } from 'undici';
import { startSandbox } from '../src/sandbox/index.js';
import { startServerProcess } from '../test/cluster/server-process.js';
import type { ServerProcess } from '../test/cluster/server-process.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const API_KEY = 'bench-key';
const BUDGET_MB = 1024;

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at === -1 ? undefined : process.argv[at + 1];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a whole number > 0, got ${raw}`);
  return value;
}

const SESSIONS = arg('sessions', 30);
const SERVERS = arg('servers', 3);
const TTL = process.argv.includes('--ttl') ? arg('ttl', 5000) : null;
const agent = new Agent({ pipelining: 0 });
const PASSED_ON = ['WA_PRESENCE_START_CONCURRENCY', 'WA_PRESENCE_HEARTBEAT_MS', 'WA_PRESENCE_REBALANCE'] as const;

async function api<T>(server: ServerProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await request(`${server.url}${path}`, {
    method,
    dispatcher: agent,
    headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: (text === '' ? null : JSON.parse(text)) as T };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(200);
  }
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function main(): Promise<void> {
  // The servers run as `npm start` runs them: the build, without tsx.
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  const schema = `cluster_bench_${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-'));
  const sandbox = await startSandbox({ autoPair: false });
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const servers: ServerProcess[] = [];
  try {
    const ids = Array.from({ length: SERVERS }, (_, i) => `b${i + 1}`);
    servers.push(
      ...(await Promise.all(
        ids.map((id) =>
          startServerProcess(
            id,
            {
              WA_PRESENCE_DATABASE_URL: DATABASE_URL,
              WA_PRESENCE_DATABASE_SCHEMA: schema,
              WA_PRESENCE_DATA_DIR: dataDir,
              WA_PRESENCE_SANDBOX: sandbox.url,
              WA_PRESENCE_SANDBOX_AUTOPAIR: 'false',
              ...(TTL === null ? {} : { WA_PRESENCE_LEASE_TTL_MS: String(TTL) }),
              // Passed on when set for this benchmark (to compare a setting against the default).
              ...Object.fromEntries(PASSED_ON.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name] ?? '']]))),
              WHATSAPP_API_KEY: API_KEY,
              WAHA_LOG_LEVEL: 'warn',
            },
            120_000,
            { built: true },
          ),
        ),
      )),
    );
    const idle = servers.map((server) => rssMb(server.child.pid));
    const names = Array.from({ length: SESSIONS }, (_, i) => `s${String(i).padStart(4, '0')}`);
    for (const name of names) {
      const server = servers[0]!;
      const created = await api(server, 'POST', '/api/sessions', { name });
      if (created.status !== 201) throw new Error(`creating ${name}: ${created.status} ${JSON.stringify(created.body)}`);
      await until(
        `pairing ${name}`,
        async () => {
          const qr = await api<{ value: string }>(server, 'GET', `/api/${name}/auth/qr?format=raw`);
          if (qr.status !== 200) return false;
          await sandbox.network.scan({ qr: qr.body.value });
          return true;
        },
        60_000,
      );
    }
    await until(
      'every session WORKING',
      async () => (await Promise.all(names.map((name, i) => api<{ status: string }>(servers[i % servers.length]!, 'GET', `/api/sessions/${name}`)))).every((r) => r.body.status === 'WORKING'),
      SESSIONS * 2000,
    );
    const loaded = servers.map((server) => rssMb(server.child.pid));
    const perSession = servers.map((_, i) => (loaded[i]! - idle[i]!) / (SESSIONS / servers.length));
    const mbPerSession = perSession.reduce((a, b) => a + b, 0) / perSession.length;
    const baseMb = idle.reduce((a, b) => a + b, 0) / idle.length;
    console.log(`servers: ${SERVERS}, sessions: ${SESSIONS}, lease TTL: ${TTL === null ? 'default' : `${TTL} ms`}`);
    const ownersNow = async (): Promise<Map<string, string>> => {
      const { rows: held } = await db.query<{ session: string; owner: string }>(`SELECT session, owner FROM ${schema}.leases WHERE expires_at > $1`, [Date.now()]);
      return new Map(held.map((row) => [row.session, row.owner]));
    };
    const spreadOf = (owners: Map<string, string>): string => ids.map((id) => [...owners.values()].filter((owner) => owner === id).length).join('/');
    let previous = await ownersNow();
    console.log(`spread after creating all through ${ids[0]}: ${spreadOf(previous)} (${ids.join('/')})`);
    let moves = 0;
    for (let i = 0; i < 20; i += 1) {
      await delay(500);
      const next = await ownersNow();
      for (const [session, owner] of next) if (previous.has(session) && previous.get(session) !== owner) moves += 1;
      previous = next;
    }
    console.log(`moves in the next 10 s: ${moves}; spread then: ${spreadOf(previous)}`);
    console.log(`RSS idle ${baseMb.toFixed(0)} MB per server; ${mbPerSession.toFixed(1)} MB per WORKING session`);
    console.log(`sessions per server within ${BUDGET_MB} MB: ${Math.floor((BUDGET_MB - baseMb) / mbPerSession)}`);

    const byOwner = ids.map((id) => [...previous.entries()].filter(([, owner]) => owner === id).map(([session]) => session));
    const busiest = byOwner.reduce((best, sessions, i) => (sessions.length > (byOwner[best]?.length ?? 0) ? i : best), 0);
    const victims = byOwner[busiest] ?? [];
    const survivor = servers[(busiest + 1) % servers.length]!;
    const killedAt = Date.now();
    await servers[busiest]!.kill('SIGKILL');
    // Detection apart from the starts: when every lease of the killed server is held by another.
    let takenAfter: number | null = null;
    const killedId = ids[busiest];
    const watchLeases = (async () => {
      while (takenAfter === null && Date.now() - killedAt < 120_000) {
        const owners = await ownersNow();
        if (victims.every((name) => owners.has(name) && owners.get(name) !== killedId)) takenAfter = Date.now() - killedAt;
        else await delay(100);
      }
    })();
    await until(
      'failover',
      // One request for the whole list (the shared statuses), not one per session: the survivors'
      // CPU goes to the takeover, not to answering the benchmark.
      async () => {
        // The killed server's rows stay believed until its leases run out: WORKING on another worker.
        const listed = await api<{ name: string; status: string; worker?: string }[]>(survivor, 'GET', '/api/sessions?all=true');
        const working = new Set(listed.body.filter((session) => session.status === 'WORKING' && session.worker !== undefined && session.worker !== killedId).map((session) => session.name));
        return victims.every((name) => working.has(name));
      },
      120_000,
    );
    const workingAfter = Date.now() - killedAt;
    await watchLeases;
    console.log(`failover: ${victims.length} sessions of the killed server WORKING elsewhere after ${workingAfter} ms (every lease taken after ${takenAfter ?? 'never'} ms)`);
  } finally {
    for (const server of servers) await server.kill('SIGKILL');
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    await sandbox.close();
    await agent.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();

/**
 * Storage throughput on both backends, same run: auth key writes/s (one key per transaction and
 * batches of 100, as Baileys writes pre-keys), one auth read of 300 ids, and presence puts/s
 * (sequential, and 8 at a time as several sessions do), and the lease work of a 300-session
 * failover (one acquire taking them all, one heartbeat renewing them). Reads are measured on an analysed table
 * (steady state); right after a bulk load, before autovacuum analyses it, PostgreSQL filters
 * instead of probing the primary key and a 300-id read is several times slower.
 *
 *   npx tsx bench/storage.ts            # SQLite in a temp dir + PostgreSQL at WA_PRESENCE_BENCH_PG
 *
 * PostgreSQL defaults to postgres://postgres@127.0.0.1:5432/test, in a throwaway schema.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStorage } from '../src/storage/index.js';
import type { Storage } from '../src/storage/index.js';

// Benchmarks are scripts, not the server: reading the environment here does not bypass config.ts.
const PG_URL = process.env['WA_PRESENCE_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const DURATION_MS = 2_000;

interface Result {
  readonly name: string;
  readonly perSecond: number;
  readonly unit: string;
}

async function rate(name: string, unit: string, perCall: number, call: (i: number) => Promise<void>): Promise<Result> {
  for (let i = 0; i < 20; i++) await call(-i - 1); // warm-up: statement caches, pool connections
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < DURATION_MS) await call(calls++);
  const seconds = (performance.now() - start) / 1000;
  return { name, perSecond: (calls * perCall) / seconds, unit };
}

function concurrently(workers: number, call: (i: number) => Promise<void>): (i: number) => Promise<void> {
  return async (i) => {
    await Promise.all(Array.from({ length: workers }, (_, w) => call(i * workers + w)));
  };
}

/** `beforeReads` brings the database to its steady state (PostgreSQL: statistics, as autovacuum would). */
async function measure(storage: Storage, beforeReads: () => Promise<void> = () => Promise.resolve()): Promise<Result[]> {
  const results: Result[] = [];
  const auth = storage.auth.forSession('bench');
  results.push(
    await rate('auth set, 1 key per transaction', 'keys/s', 1, (i) => auth.set([{ category: 'session', id: `s${i}`, value: randomBytes(200).toString('base64') }])),
  );
  results.push(
    await rate('auth set, 100 keys per transaction', 'keys/s', 100, (i) =>
      auth.set(Array.from({ length: 100 }, (_, k) => ({ category: 'pre-key', id: `${i}-${k}`, value: randomBytes(100).toString('base64') }))),
    ),
  );
  await beforeReads();
  const ids = Array.from({ length: 300 }, (_, k) => `0-${k}`);
  results.push(await rate('auth get of 300 ids (one query)', 'reads/s', 1, async () => {
    const found = await auth.get('pre-key', ids);
    if (Object.keys(found).length !== 100) throw new Error('bench: expected the 100 keys of batch 0');
  }));
  const put = (i: number): Promise<void> =>
    storage.presence.put(`bench-${i % 8}`, `${i % 500}@c.us`, [{ participant: `${i % 500}@c.us`, lastKnownPresence: i % 2 === 0 ? 'online' : 'offline', lastSeen: i }]);
  results.push(await rate('presence put, sequential', 'puts/s', 1, put));
  results.push(await rate('presence put, 8 at a time', 'puts/s', 8, concurrently(8, put)));

  // Failover-sized lease work: 300 sessions, one server takes them all, then heartbeats.
  for (let i = 0; i < 300; i++) {
    const name = `lease-${String(i).padStart(3, '0')}`;
    await storage.sessions.create({ name, engine: 'NOWEB', config: {}, running: true, me: null, presence: null, createdAt: 0, updatedAt: 0 });
  }
  const started = performance.now();
  const taken = await storage.leases.acquire('bench-server', { capacity: 300, ttlMs: 60_000 });
  if (taken.length !== 300) throw new Error(`bench: took ${taken.length} leases, expected 300`);
  results.push({ name: 'lease acquire of 300 sessions (one call)', perSecond: 1000 / (performance.now() - started), unit: 'calls/s' });
  results.push(
    await rate('lease renew, 300 held (one heartbeat)', 'calls/s', 1, async () => {
      const renewed = await storage.leases.renew('bench-server', 60_000);
      if (renewed.length !== 300) throw new Error(`bench: renewed ${renewed.length} leases, expected 300`);
    }),
  );
  return results;
}

async function withSqlite(): Promise<Result[]> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-'));
  try {
    const storage = await openStorage({ dataDir: dir, databaseUrl: null });
    try {
      return await measure(storage);
    } finally {
      await storage.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function withPostgres(): Promise<Result[]> {
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  try {
    const storage = await openStorage({ dataDir: '', databaseUrl: PG_URL, schema });
    try {
      return await measure(storage, () => admin(`ANALYZE ${schema}.auth_keys`));
    } finally {
      await storage.close();
    }
  } finally {
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

const sqlite = await withSqlite();
const postgres = await withPostgres();
console.log(`${'measure'.padEnd(40)} ${'SQLite'.padStart(12)} ${'PostgreSQL'.padStart(12)}`);
sqlite.forEach((result, index) => {
  const other = postgres[index];
  const fmt = (value: number | undefined): string => (value === undefined ? '-' : Math.round(value).toLocaleString('en-US'));
  console.log(`${result.name.padEnd(40)} ${fmt(result.perSecond).padStart(12)} ${fmt(other?.perSecond).padStart(12)}  ${result.unit}`);
});

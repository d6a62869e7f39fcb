/**
 * Presence history storage on both backends, same run: bytes per stored change, a 30-day query
 * of one contact among N stored changes (the route's two queries: the range and the state before
 * it), and export throughput with the memory it takes.
 *
 *   npx tsx bench/history.ts                        # 10,000,000 changes (long: minutes per backend)
 *   npx tsx bench/history.ts --rows 200000          # a quick run
 *   npx tsx bench/history.ts --backend sqlite       # one backend (sqlite | postgres | both)
 *
 * The changes belong to one session, spread evenly over --chats contacts (2,000) and --days (60)
 * of history. PostgreSQL defaults to postgres://postgres@127.0.0.1:5432/test, in a throwaway schema.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { onlineIntervals } from '../src/presence/history.js';
import type { SessionChange } from '../src/storage/history.js';
import { openStorage } from '../src/storage/index.js';
import type { Storage } from '../src/storage/index.js';

// Benchmarks are scripts, not the server: reading the environment here does not bypass config.ts.
const PG_URL = process.env['WA_PRESENCE_BENCH_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    chats: { type: 'string', default: '2000' },
    days: { type: 'string', default: '60' },
    backend: { type: 'string', default: 'both' },
    'export-rows': { type: 'string', default: '1000000' },
  },
});
const ROWS = Number(args.rows);
const CHATS = Number(args.chats);
const DAYS = Number(args.days);
const EXPORT_ROWS = Number(args['export-rows']);
const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const SESSION = 'bench';
const chatOf = (index: number): string => `49155${String(index).padStart(8, '0')}@c.us`;

async function load(storage: Storage): Promise<number> {
  const started = performance.now();
  const batch = 5000;
  const span = DAYS * DAY;
  for (let done = 0; done < ROWS; done += batch) {
    const changes: SessionChange[] = [];
    for (let k = done; k < Math.min(ROWS, done + batch); k++) {
      const chat = chatOf(k % CHATS);
      // In time order per chat: the k-th row of a chat is its (k / CHATS)-th change.
      const at = NOW - span + Math.floor(((k / ROWS) * span));
      const online = Math.floor(k / CHATS) % 2 === 0;
      changes.push({ session: SESSION, chatId: chat, participant: chat, presence: online ? 'online' : 'offline', at, lastSeen: online ? null : Math.floor(at / 1000) });
    }
    await storage.history.append(changes);
    if (done % 1_000_000 === 0 && done > 0) process.stdout.write(`  ${done.toLocaleString()} rows loaded\n`);
  }
  return (performance.now() - started) / 1000;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function query(storage: Storage): Promise<{ p50: number; p95: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < 60; i++) {
    const chatId = chatOf((i * 37) % CHATS);
    const from = NOW - 30 * DAY;
    const started = performance.now();
    const [range, before, gaps] = await Promise.all([
      storage.history.range({ session: SESSION, chatId, from, to: NOW }),
      storage.history.before(SESSION, chatId, undefined, from),
      storage.history.gaps(SESSION, from, NOW),
    ]);
    onlineIntervals(range.map((row) => ({ presence: row.presence, at: row.at / 1000, lastSeen: row.lastSeen })), {
      from: from / 1000,
      to: NOW / 1000,
      gaps: gaps.map((gap) => ({ from: gap.from / 1000, to: gap.to === null ? null : gap.to / 1000 })),
      before: before[0] === undefined ? null : { presence: before[0].presence, at: before[0].at / 1000, lastSeen: before[0].lastSeen },
    });
    if (i >= 10) times.push(performance.now() - started); // the first ones warm caches and statements
    rows = range.length;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), rows };
}

async function exportRate(storage: Storage): Promise<{ rowsPerSecond: number; rows: number; heapGrowthMb: number; rssGrowthMb: number }> {
  global.gc?.();
  const heapStart = process.memoryUsage().heapUsed;
  const rssStart = process.memoryUsage().rss;
  let heapPeak = heapStart;
  let rssPeak = rssStart;
  let rows = 0;
  let bytes = 0;
  const started = performance.now();
  for await (const row of storage.history.export({ session: SESSION, from: 0, to: NOW })) {
    bytes += JSON.stringify(row).length;
    rows += 1;
    if (rows % 10_000 === 0) {
      const usage = process.memoryUsage();
      heapPeak = Math.max(heapPeak, usage.heapUsed);
      rssPeak = Math.max(rssPeak, usage.rss);
    }
    if (rows >= EXPORT_ROWS) break;
  }
  const seconds = (performance.now() - started) / 1000;
  if (bytes === 0) throw new Error('nothing exported');
  return { rowsPerSecond: rows / seconds, rows, heapGrowthMb: (heapPeak - heapStart) / 1e6, rssGrowthMb: (rssPeak - rssStart) / 1e6 };
}

async function report(name: string, storage: Storage, bytes: () => Promise<number>, analyse: () => Promise<void>): Promise<void> {
  const loadSeconds = await load(storage);
  await analyse();
  const size = await bytes();
  const q = await query(storage);
  const e = await exportRate(storage);
  process.stdout.write(
    `${name}: ${ROWS.toLocaleString()} changes loaded in ${loadSeconds.toFixed(1)} s; ${(size / ROWS).toFixed(0)} bytes per change (table and indexes)\n` +
      `  30-day query of one contact (${q.rows} changes): p50 ${q.p50.toFixed(2)} ms, p95 ${q.p95.toFixed(2)} ms\n` +
      `  export: ${Math.round(e.rowsPerSecond).toLocaleString()} rows/s over ${e.rows.toLocaleString()} rows; heap grew ${e.heapGrowthMb.toFixed(1)} MB, RSS ${e.rssGrowthMb.toFixed(1)} MB\n`,
  );
}

async function sqlite(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-bench-history-'));
  const storage = await openStorage({ dataDir: dir, databaseUrl: null });
  const file = join(dir, 'wa-presence.sqlite');
  try {
    await report(
      'SQLite',
      storage,
      async () => {
        const db = new Database(file);
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
          const pages = db.prepare<[], { n: number }>("SELECT SUM(pgsize) AS n FROM dbstat WHERE name LIKE 'presence_history%'").get();
          return pages?.n ?? (await stat(file)).size;
        } catch {
          return (await stat(file)).size;
        } finally {
          db.close();
        }
      },
      () => {
        const db = new Database(file);
        db.exec('ANALYZE');
        db.close();
        return Promise.resolve();
      },
    );
  } finally {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function postgres(): Promise<void> {
  const schema = `bench_history_${randomBytes(4).toString('hex')}`;
  const storage = await openStorage({ dataDir: '', databaseUrl: PG_URL, schema });
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await report(
      'PostgreSQL',
      storage,
      async () => {
        const { rows } = await client.query<{ n: string }>(`SELECT pg_total_relation_size('${schema}.presence_history') AS n`);
        return Number(rows[0]?.n ?? 0);
      },
      async () => {
        await client.query(`VACUUM ANALYZE ${schema}.presence_history`);
      },
    );
  } finally {
    await storage.close();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

if (args.backend === 'sqlite' || args.backend === 'both') await sqlite();
if (args.backend === 'postgres' || args.backend === 'both') await postgres();

import type { Clock } from '../../clock.js';
import type { AcquireOptions, Lease, LeaseFence, LeaseStore } from '../leases.js';
import { LeaseLostError, checkAcquireOptions, checkTtl } from '../leases.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

interface LeaseRow {
  session: string;
  owner: string;
  epoch: number;
  expires_at: number;
}

function toLease(row: LeaseRow): Lease {
  return { session: row.session, owner: row.owner, epoch: row.epoch, expiresAt: row.expires_at };
}

function bySession(a: Lease, b: Lease): number {
  return a.session < b.session ? -1 : a.session > b.session ? 1 : 0;
}

/**
 * One machine has one server, but the semantics are the same as PostgreSQL's so that the
 * cluster code runs unchanged on either; every method is one IMMEDIATE transaction, so two
 * processes on the same file are serialised by SQLite's write lock.
 */
export function createSqliteLeaseStore(db: SqliteDatabase, clock: Pick<Clock, 'now'>): LeaseStore {
  const columns = 'session, owner, epoch, expires_at';
  const countHeld = db.prepare<[string, number], { held: number }>(
    'SELECT count(*) AS held FROM leases WHERE owner = ? AND expires_at > ?',
  );
  // Free: no lease row, released (owner NULL) or expired. Running sessions first: a server short
  // of capacity should take over what users are waiting for before stopped sessions.
  const free = `SELECT s.name FROM sessions s LEFT JOIN leases l ON l.session = s.name
    WHERE (l.session IS NULL OR l.owner IS NULL OR l.expires_at <= @now) FILTER
    ORDER BY s.running DESC, s.name LIMIT @room`;
  const freeAll = db.prepare<[{ now: number; room: number }], { name: string }>(free.replace('FILTER', ''));
  const freeAmong = db.prepare<[{ now: number; room: number; names: string }], { name: string }>(
    free.replace('FILTER', 'AND s.name IN (SELECT value FROM json_each(@names))'),
  );
  const take = db.prepare<[string, string, number], LeaseRow>(
    `INSERT INTO leases (session, owner, epoch, expires_at) VALUES (?, ?, 1, ?)
     ON CONFLICT (session) DO UPDATE SET owner = excluded.owner, epoch = leases.epoch + 1, expires_at = excluded.expires_at
     RETURNING ${columns}`,
  );
  const acquire = db.transaction((owner: string, options: AcquireOptions, now: number): Lease[] => {
    const held = countHeld.get(owner, now)?.held ?? 0;
    const room = options.capacity - held;
    if (room <= 0) return [];
    const candidates =
      options.sessions === undefined
        ? freeAll.all({ now, room })
        : freeAmong.all({ now, room, names: JSON.stringify(options.sessions) });
    return candidates.map((candidate) => {
      const row = take.get(candidate.name, owner, now + options.ttlMs);
      if (row === undefined) throw new Error(`lease of "${candidate.name}" was not written`);
      return toLease(row);
    });
  });
  const renew = db.prepare<[number, string, number], LeaseRow>(
    `UPDATE leases SET expires_at = ? WHERE owner = ? AND expires_at > ? RETURNING ${columns}`,
  );
  const releaseAll = db.prepare<[number, string], { session: string }>(
    'UPDATE leases SET owner = NULL, expires_at = ? WHERE owner = ? RETURNING session',
  );
  const releaseSome = db.prepare<[number, string, string], { session: string }>(
    'UPDATE leases SET owner = NULL, expires_at = ? WHERE owner = ? AND session IN (SELECT value FROM json_each(?)) RETURNING session',
  );
  const get = db.prepare<[string, number], LeaseRow>(
    `SELECT ${columns} FROM leases WHERE session = ? AND owner IS NOT NULL AND expires_at > ?`,
  );
  const list = db.prepare<[number], LeaseRow>(
    `SELECT ${columns} FROM leases WHERE owner IS NOT NULL AND expires_at > ? ORDER BY session`,
  );

  return {
    acquire: (owner, options) =>
      settle(() => {
        checkAcquireOptions(options);
        return acquire.immediate(owner, options, clock.now()).sort(bySession);
      }),
    renew: (owner, ttlMs) =>
      settle(() => {
        checkTtl(ttlMs);
        const now = clock.now();
        return renew.all(now + ttlMs, owner, now).map(toLease).sort(bySession);
      }),
    release: (owner, sessions) =>
      settle(() => {
        const now = clock.now();
        const rows = sessions === undefined ? releaseAll.all(now, owner) : releaseSome.all(now, owner, JSON.stringify(sessions));
        return rows.map((row) => row.session).sort();
      }),
    get: (session) =>
      settle(() => {
        const row = get.get(session, clock.now());
        return row === undefined ? null : toLease(row);
      }),
    list: () => settle(() => list.all(clock.now()).map(toLease)),
  } satisfies LeaseStore;
}

/** Throws `LeaseLostError` unless the session's lease is the fence's; call inside the write's transaction. */
export function createSqliteFenceCheck(db: SqliteDatabase): (session: string, fence: LeaseFence) => void {
  const current = db.prepare<[string], { owner: string | null; epoch: number }>('SELECT owner, epoch FROM leases WHERE session = ?');
  return (session, fence) => {
    const lease = current.get(session) ?? null;
    if (lease === null || lease.owner !== fence.owner || lease.epoch !== fence.epoch) {
      throw new LeaseLostError(session, fence, lease);
    }
  };
}

import type { Clock } from '../storage.js';
import type { Lease, LeaseFence, LeaseStore } from '../leases.js';
import { LeaseLostError, checkAcquireOptions, checkTtl } from '../leases.js';
import { toSafeNumber } from '../decode.js';
import type { PgClient, PgPool } from './database.js';

interface LeaseRow {
  session: string;
  owner: string;
  epoch: string;
  expires_at: string;
}

function toLease(row: LeaseRow): Lease {
  return {
    session: row.session,
    owner: row.owner,
    epoch: toSafeNumber(row.epoch, `lease of "${row.session}" epoch`),
    expiresAt: toSafeNumber(row.expires_at, `lease of "${row.session}" expires_at`),
  };
}

function bySession(a: Lease, b: Lease): number {
  return a.session < b.session ? -1 : a.session > b.session ? 1 : 0;
}

const COLUMNS = 'session, owner, epoch, expires_at';

/**
 * One statement per acquisition. Servers acquiring at the same moment do not take the same
 * session twice, for two reasons: candidates are locked with SKIP LOCKED (a server passes over the
 * sessions another is taking right now and takes others, which also spreads them), and the
 * upsert's WHERE is re-evaluated on the latest row version after waiting for a concurrent writer,
 * so a lease that just became live is never overwritten.
 */
const ACQUIRE = `
  WITH held AS (
    SELECT count(*) AS n FROM leases WHERE owner = $1 AND expires_at > $2
  ), candidates AS (
    SELECT s.name FROM sessions s LEFT JOIN leases l ON l.session = s.name
    WHERE (l.session IS NULL OR l.owner IS NULL OR l.expires_at <= $2)
      AND ($5::text[] IS NULL OR s.name = ANY($5::text[]))
    -- Running sessions first: a server short of capacity takes over what users wait for.
    ORDER BY s.running DESC, s.name
    LIMIT GREATEST($3 - (SELECT n FROM held), 0)
    FOR UPDATE OF s SKIP LOCKED
  )
  INSERT INTO leases (session, owner, epoch, expires_at)
  SELECT name, $1, 1, $4 FROM candidates
  ON CONFLICT (session) DO UPDATE SET owner = excluded.owner, epoch = leases.epoch + 1, expires_at = excluded.expires_at
  WHERE leases.owner IS NULL OR leases.expires_at <= $2
  RETURNING ${COLUMNS}`;

export function createPostgresLeaseStore(pool: PgPool, clock: Clock): LeaseStore {
  return {
    acquire: async (owner, options) => {
      checkAcquireOptions(options);
      const now = clock();
      const { rows } = await pool.query<LeaseRow>(ACQUIRE, [owner, now, options.capacity, now + options.ttlMs, options.sessions ?? null]);
      return rows.map(toLease).sort(bySession);
    },
    renew: async (owner, ttlMs) => {
      checkTtl(ttlMs);
      const now = clock();
      const { rows } = await pool.query<LeaseRow>(
        `UPDATE leases SET expires_at = $1 WHERE owner = $2 AND expires_at > $3 RETURNING ${COLUMNS}`,
        [now + ttlMs, owner, now],
      );
      return rows.map(toLease).sort(bySession);
    },
    release: async (owner, sessions) => {
      const { rows } = await pool.query<{ session: string }>(
        `UPDATE leases SET owner = NULL, expires_at = $1
         WHERE owner = $2 AND ($3::text[] IS NULL OR session = ANY($3::text[])) RETURNING session`,
        [clock(), owner, sessions ?? null],
      );
      return rows.map((row) => row.session).sort();
    },
    get: async (session) => {
      const { rows } = await pool.query<LeaseRow>(
        `SELECT ${COLUMNS} FROM leases WHERE session = $1 AND owner IS NOT NULL AND expires_at > $2`,
        [session, clock()],
      );
      return rows[0] === undefined ? null : toLease(rows[0]);
    },
    list: async () => {
      const { rows } = await pool.query<LeaseRow>(
        `SELECT ${COLUMNS} FROM leases WHERE owner IS NOT NULL AND expires_at > $1 ORDER BY session`,
        [clock()],
      );
      return rows.map(toLease);
    },
  } satisfies LeaseStore;
}

/**
 * Throws `LeaseLostError` unless the session's lease is the fence's. Call it first inside the
 * write's transaction: FOR SHARE holds the lease row until commit, so a takeover (an UPDATE of that
 * row) waits for the write to finish, and a takeover that committed first is seen here.
 */
export async function checkPostgresFence(client: PgClient, session: string, fence: LeaseFence): Promise<void> {
  const { rows } = await client.query<{ owner: string | null; epoch: string }>(
    'SELECT owner, epoch FROM leases WHERE session = $1 FOR SHARE',
    [session],
  );
  const row = rows[0];
  const current = row === undefined ? null : { owner: row.owner, epoch: toSafeNumber(row.epoch, `lease of "${session}" epoch`) };
  if (current === null || current.owner !== fence.owner || current.epoch !== fence.epoch) {
    throw new LeaseLostError(session, fence, current);
  }
}

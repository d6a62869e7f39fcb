import type { Clock } from '../../clock.js';
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
 * Gives every stored session a lease row (owner NULL, epoch 0) so that acquisition only ever
 * updates existing rows, which it can lock with SKIP LOCKED.
 */
const ENSURE_ROWS = `
  INSERT INTO leases (session, owner, epoch, expires_at)
  SELECT s.name, NULL, 0, 0 FROM sessions s
  WHERE NOT EXISTS (SELECT 1 FROM leases l WHERE l.session = s.name)
    AND ($1::text[] IS NULL OR s.name = ANY($1::text[]))
  ON CONFLICT (session) DO NOTHING`;

/**
 * Takes free lease rows up to the room left. Servers acquiring at the same moment never take the
 * same session: candidates are locked FOR UPDATE, and a row that another transaction changed
 * meanwhile is re-checked against the WHERE on its latest version before it is taken. SKIP LOCKED
 * makes a server pass over rows another is taking right now (so they spread), and over a row
 * that a fenced write holds FOR SHARE: a server frozen inside such a write (SIGSTOP) cannot block
 * every takeover; its transaction is ended by idle_in_transaction_session_timeout (database.ts).
 */
const ACQUIRE = `
  WITH held AS (
    SELECT count(*) AS n FROM leases WHERE owner = $1 AND expires_at > $2
  ), candidates AS (
    SELECT l.session FROM leases l JOIN sessions s ON s.name = l.session
    WHERE (l.owner IS NULL OR l.expires_at <= $2)
      AND ($5::text[] IS NULL OR l.session = ANY($5::text[]))
    -- Running sessions first: a server short of capacity takes over what users wait for.
    ORDER BY s.running DESC, l.session
    LIMIT GREATEST($3 - (SELECT n FROM held), 0)
    FOR UPDATE OF l SKIP LOCKED
  )
  UPDATE leases SET owner = $1, epoch = leases.epoch + 1, expires_at = $4
  FROM candidates WHERE leases.session = candidates.session
  RETURNING leases.session, leases.owner, leases.epoch, leases.expires_at`;

export function createPostgresLeaseStore(pool: PgPool, clock: Pick<Clock, 'now'>): LeaseStore {
  return {
    acquire: async (owner, options) => {
      checkAcquireOptions(options);
      const sessions = options.sessions ?? null;
      await pool.query(ENSURE_ROWS, [sessions]);
      const now = clock.now();
      const { rows } = await pool.query<LeaseRow>(ACQUIRE, [owner, now, options.capacity, now + options.ttlMs, sessions]);
      return rows.map(toLease).sort(bySession);
    },
    renew: async (owner, ttlMs) => {
      checkTtl(ttlMs);
      const now = clock.now();
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
        [clock.now(), owner, sessions ?? null],
      );
      return rows.map((row) => row.session).sort();
    },
    get: async (session) => {
      const { rows } = await pool.query<LeaseRow>(
        `SELECT ${COLUMNS} FROM leases WHERE session = $1 AND owner IS NOT NULL AND expires_at > $2`,
        [session, clock.now()],
      );
      return rows[0] === undefined ? null : toLease(rows[0]);
    },
    list: async () => {
      const { rows } = await pool.query<LeaseRow>(
        `SELECT ${COLUMNS} FROM leases WHERE owner IS NOT NULL AND expires_at > $1 ORDER BY session`,
        [clock.now()],
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

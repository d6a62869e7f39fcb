import { decodeSessionStatus, toSafeNumber } from '../decode.js';
import type { RuntimeStatus, RuntimeStatusStore } from '../statuses.js';
import type { PgPool } from './database.js';

interface StatusRow {
  session: string;
  status: string;
  server: string;
  epoch: string;
  engine: boolean;
  at: string;
  reason: string | null;
}

function fromRow(row: StatusRow): RuntimeStatus {
  const where = `runtime status of "${row.session}"`;
  return {
    session: row.session,
    status: decodeSessionStatus(row.status, where),
    server: row.server,
    epoch: toSafeNumber(row.epoch, `${where} epoch`),
    engine: row.engine,
    at: toSafeNumber(row.at, `${where} at`),
    reason: row.reason,
  };
}

/**
 * One statement: the fence (the lease row) is read in the statement's snapshot, and a concurrent
 * write of a newer owner that commits first is seen by ON CONFLICT, whose WHERE keeps the newer
 * epoch. No row lock on the lease: a takeover (SKIP LOCKED) is never held up by a status write.
 */
const PUT = `
  INSERT INTO session_statuses (session, status, server, epoch, engine, at, reason)
  SELECT $1::text, $2::text, $3::text, $4::bigint, $5::boolean, $6::bigint, $7::text
  WHERE EXISTS (SELECT 1 FROM leases WHERE session = $1::text AND owner = $3::text AND epoch = $4::bigint)
  ON CONFLICT (session) DO UPDATE SET status = EXCLUDED.status, server = EXCLUDED.server, epoch = EXCLUDED.epoch,
    engine = EXCLUDED.engine, at = EXCLUDED.at, reason = EXCLUDED.reason
  WHERE session_statuses.epoch <= EXCLUDED.epoch`;

export function createPostgresStatusStore(pool: PgPool): RuntimeStatusStore {
  return {
    put: async (status) => {
      const result = await pool.query(PUT, [status.session, status.status, status.server, status.epoch, status.engine, status.at, status.reason]);
      return result.rowCount === 1;
    },
    list: async () =>
      (await pool.query<StatusRow>('SELECT session, status, server, epoch, engine, at, reason FROM session_statuses ORDER BY session')).rows.map(fromRow),
  } satisfies RuntimeStatusStore;
}

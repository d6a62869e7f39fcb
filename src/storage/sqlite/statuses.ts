import { decodeSessionStatus } from '../decode.js';
import type { RuntimeStatus, RuntimeStatusStore } from '../statuses.js';
import type { SqliteDatabase } from './database.js';
import { settle } from './database.js';

interface StatusRow {
  session: string;
  status: string;
  server: string;
  epoch: number;
  engine: number;
  at: number;
  reason: string | null;
}

function fromRow(row: StatusRow): RuntimeStatus {
  return {
    session: row.session,
    status: decodeSessionStatus(row.status, `runtime status of "${row.session}"`),
    server: row.server,
    epoch: row.epoch,
    engine: row.engine === 1,
    at: row.at,
    reason: row.reason,
  };
}

/** Same semantics as PostgreSQL's (one statement: fence check and upsert, never an older epoch over a newer one). */
export function createSqliteStatusStore(db: SqliteDatabase): RuntimeStatusStore {
  const put = db.prepare<[{ session: string; status: string; server: string; epoch: number; engine: number; at: number; reason: string | null }]>(
    `INSERT INTO session_statuses (session, status, server, epoch, engine, at, reason)
     SELECT @session, @status, @server, @epoch, @engine, @at, @reason
     WHERE EXISTS (SELECT 1 FROM leases WHERE session = @session AND owner = @server AND epoch = @epoch)
     ON CONFLICT (session) DO UPDATE SET status = excluded.status, server = excluded.server, epoch = excluded.epoch,
       engine = excluded.engine, at = excluded.at, reason = excluded.reason
     WHERE session_statuses.epoch <= excluded.epoch`,
  );
  const list = db.prepare<[], StatusRow>('SELECT session, status, server, epoch, engine, at, reason FROM session_statuses ORDER BY session');
  return {
    put: (status) => settle(() => put.run({ ...status, engine: status.engine ? 1 : 0 }).changes === 1),
    list: () => settle(() => list.all().map(fromRow)),
  } satisfies RuntimeStatusStore;
}

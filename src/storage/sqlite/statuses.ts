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
}

function fromRow(row: StatusRow): RuntimeStatus {
  return {
    session: row.session,
    status: decodeSessionStatus(row.status, `runtime status of "${row.session}"`),
    server: row.server,
    epoch: row.epoch,
    engine: row.engine === 1,
    at: row.at,
  };
}

/** Same semantics as PostgreSQL's (one statement: fence check and upsert, never an older epoch over a newer one). */
export function createSqliteStatusStore(db: SqliteDatabase): RuntimeStatusStore {
  const put = db.prepare<[{ session: string; status: string; server: string; epoch: number; engine: number; at: number }]>(
    `INSERT INTO session_statuses (session, status, server, epoch, engine, at)
     SELECT @session, @status, @server, @epoch, @engine, @at
     WHERE EXISTS (SELECT 1 FROM leases WHERE session = @session AND owner = @server AND epoch = @epoch)
     ON CONFLICT (session) DO UPDATE SET status = excluded.status, server = excluded.server, epoch = excluded.epoch,
       engine = excluded.engine, at = excluded.at
     WHERE session_statuses.epoch <= excluded.epoch`,
  );
  const list = db.prepare<[], StatusRow>('SELECT session, status, server, epoch, engine, at FROM session_statuses ORDER BY session');
  return {
    put: (status) => settle(() => put.run({ ...status, engine: status.engine ? 1 : 0 }).changes === 1),
    list: () => settle(() => list.all().map(fromRow)),
  } satisfies RuntimeStatusStore;
}

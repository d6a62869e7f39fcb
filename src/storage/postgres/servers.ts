import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { ServerRegistry } from '../servers.js';
import type { PgPool } from './database.js';

interface ServerRow {
  id: string;
  url: string;
  started_at: string;
  expires_at: string;
}

export function createPostgresServerRegistry(pool: PgPool, clock: Pick<Clock, 'now'> = systemClock): ServerRegistry {
  return {
    async announce(server, ttlMs) {
      const now = clock.now();
      await pool.query(
        `INSERT INTO servers (id, url, started_at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, expires_at = EXCLUDED.expires_at`,
        [server.id, server.url, now, now + ttlMs],
      );
    },
    async withdraw(id) {
      await pool.query('DELETE FROM servers WHERE id = $1', [id]);
    },
    async live() {
      const { rows } = await pool.query<ServerRow>('SELECT id, url, started_at, expires_at FROM servers WHERE expires_at > $1 ORDER BY id', [clock.now()]);
      return rows.map((row) => ({ id: row.id, url: row.url, startedAt: Number(row.started_at), expiresAt: Number(row.expires_at) }));
    },
    async ownerOf(session) {
      const now = clock.now();
      const { rows } = await pool.query<{ id: string; url: string }>(
        `SELECT s.id, s.url FROM leases l JOIN servers s ON s.id = l.owner
         WHERE l.session = $1 AND l.expires_at > $2 AND s.expires_at > $2`,
        [session, now],
      );
      return rows[0] ?? null;
    },
    async sessionCount() {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM sessions');
      return Number(rows[0]?.n ?? 0);
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ParticipantPresence } from '../../src/presence/types.js';
import type { SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { migrateSqlite, openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { createGroupCommit } from '../../src/storage/sqlite/group-commit.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { createSqliteOutboxStore } from '../../src/storage/sqlite/outbox.js';
import { createSqlitePresenceStore } from '../../src/storage/sqlite/presence.js';

describe('sqlite: one group commit for the presence puts and the outbox', () => {
  let dir: string;
  let db: SqliteDatabase;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-group-'));
    db = openSqliteDatabase(dir);
    migrateSqlite(db, SQLITE_MIGRATIONS);
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a turn's puts join the outbox's batch (written at its flush); a failing put rolls back only itself", async () => {
    const grouped = createGroupCommit(db);
    const presence = createSqlitePresenceStore(db, grouped);
    const outbox = createSqliteOutboxStore(db, grouped);
    const rows = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM presences');
    const online: ParticipantPresence[] = [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: null }];
    // STRICT table: a text last_seen is refused by SQLite, so this put fails inside the batch.
    const broken = [{ participant: '2@c.us', lastKnownPresence: 'online', lastSeen: 'soon' }] as unknown as ParticipantPresence[];
    const calls = [
      presence.put('s1', '1@c.us', online),
      presence.put('s1', '2@c.us', broken),
      outbox.enqueue({ id: 'e1', session: 's1', event: 'presence.update', body: '{}' }, [], 1000),
    ];
    // Nothing written yet: the puts wait for the batch, as the accept does.
    expect(rows.get()?.n).toBe(0);
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await presence.get('s1', '1@c.us')).toMatchObject({ id: '1@c.us', presences: online });
    expect(await presence.get('s1', '2@c.us')).toBeNull();
    expect(await outbox.enqueue({ id: 'e1', session: 's1', event: 'presence.update', body: '{}' }, [], 1000)).toBe(false);
    expect(rows.get()?.n).toBe(1);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteDatabase } from '../../src/storage/sqlite/database.js';
import { migrateSqlite, openSqliteDatabase } from '../../src/storage/sqlite/database.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { createGroupCommit } from '../../src/storage/sqlite/group-commit.js';
import { createSqliteOutboxStore } from '../../src/storage/sqlite/outbox.js';
import { createSqlitePresenceStore } from '../../src/storage/sqlite/presence.js';
import type { ParticipantPresence } from '../../src/presence/types.js';
import { delivery, describeOutbox, event } from './outbox-conformance.js';
import type { OutboxFixture } from './outbox-conformance.js';
import { describeOutboxHandOff } from './outbox-handoff-conformance.js';

async function sqliteFixture(): Promise<OutboxFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'wa-presence-outbox-'));
  const dbs: SqliteDatabase[] = [];
  return {
    open: () =>
      new Promise((resolve) => {
        const db = openSqliteDatabase(dir);
        dbs.push(db);
        migrateSqlite(db, SQLITE_MIGRATIONS);
        resolve(createSqliteOutboxStore(db));
      }),
    dispose: async () => {
      for (const db of dbs) db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeOutbox('sqlite', sqliteFixture);
describeOutboxHandOff('sqlite', sqliteFixture);

describe('sqlite outbox group commit', () => {
  let dir: string;
  let db: SqliteDatabase;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wa-presence-outbox-group-'));
    db = openSqliteDatabase(dir);
    migrateSqlite(db, SQLITE_MIGRATIONS);
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a call that fails in a batch rolls back only itself; the calls around it commit', async () => {
    const store = createSqliteOutboxStore(db);
    const T = 1_700_000_000_000;
    // A delivery without a URL breaks a NOT NULL constraint after its event row was written.
    const broken = { ...delivery('a', 'c2'), url: null as unknown as string };
    const results = await Promise.allSettled([
      store.enqueue(event('e1'), [delivery('a', 'c1')], T),
      store.enqueue(event('e2'), [broken], T),
      store.enqueue(event('e3'), [delivery('a', 'c3')], T),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const events = db.prepare<[], { id: string }>('SELECT id FROM outbox_events ORDER BY id').all();
    expect(events.map((e) => e.id)).toEqual(['e1', 'e3']);
    expect(await store.countPending()).toBe(2);
    // Nothing of e2 stayed behind: it can be accepted again.
    expect(await store.enqueue(event('e2'), [delivery('a', 'c2')], T)).toBe(true);
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

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/index.js';
import type { StoredSession } from '../../src/storage/sessions.js';

/**
 * One backend's database for one test: a fresh SQLite directory or a fresh PostgreSQL schema.
 * Every `open()` opens a new Storage on that same database, so a test can close and reopen it, or
 * open two at once (two servers on one database).
 */
export interface StorageFixture {
  open(): Promise<Storage>;
  /** Makes the database itself reject any auth key written with this value (a trigger). */
  poisonAuthValue(poison: string): Promise<void>;
  /** Versions recorded in `schema_migrations`, in the order of the rows. */
  appliedMigrations(): Promise<number[]>;
  /** Removes the database (directory or schema). */
  dispose(): Promise<void>;
}

export function session(name: string, overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    name,
    engine: 'NOWEB',
    config: {
      webhooks: [{ url: 'https://example.test/hook', events: ['presence.update'], hmac: { key: 'k' }, retries: null }],
      metadata: { team: 'ops' },
      noweb: { markOnline: false },
    },
    running: false,
    me: null,
    presence: null,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** The storage conformance suite: every backend must pass exactly this. */
export function describeStorage(name: string, createFixture: () => Promise<StorageFixture>): void {
  describe(`storage conformance: ${name}`, () => {
    let fixture: StorageFixture;
    let opened: Storage[] = [];

    async function make(): Promise<Storage> {
      const storage = await fixture.open();
      opened.push(storage);
      return storage;
    }

    beforeEach(async () => {
      fixture = await createFixture();
      opened = [];
    });

    afterEach(async () => {
      await Promise.all(opened.map((storage) => storage.close()));
      await fixture.dispose();
    });

    it('names its backend', async () => {
      const storage = await make();
      expect(storage.backend).toBe(name);
    });

    describe('sessions', () => {
      it('creates, gets and lists sessions by name, keeping every field', async () => {
        const storage = await make();
        const full = session('b', {
          running: true,
          me: { id: '15550001111@c.us', pushName: 'Ann', lid: '123@lid' },
          presence: 'online',
          createdAt: 1_700_000_000_123,
          updatedAt: 1_700_000_000_456,
        });
        expect(await storage.sessions.create(full)).toBe(true);
        expect(await storage.sessions.create(session('a'))).toBe(true);
        expect(await storage.sessions.get('b')).toEqual(full);
        expect(await storage.sessions.get('missing')).toBeNull();
        expect((await storage.sessions.list()).map((s) => s.name)).toEqual(['a', 'b']);
      });

      it('lists names in byte order on every backend, whatever the locale', async () => {
        const storage = await make();
        for (const name of ['b', 'a', 'B', '_x', 'A-1']) await storage.sessions.create(session(name));
        expect((await storage.sessions.list()).map((s) => s.name)).toEqual(['A-1', 'B', '_x', 'a', 'b']);
      });

      it('refuses a duplicate name and leaves the first one unchanged', async () => {
        const storage = await make();
        const first = session('dup', { presence: 'offline' });
        expect(await storage.sessions.create(first)).toBe(true);
        expect(await storage.sessions.create(session('dup', { running: true, updatedAt: 5 }))).toBe(false);
        expect(await storage.sessions.get('dup')).toEqual(first);
        expect(await storage.sessions.list()).toHaveLength(1);
      });

      it('replaces the whole record on update, and reports a missing session', async () => {
        const storage = await make();
        await storage.sessions.create(session('s', { presence: 'online', me: { id: '1@c.us', pushName: null } }));
        const replaced = session('s', { config: {}, running: true, me: null, presence: null, updatedAt: 1_800_000_000_000 });
        expect(await storage.sessions.update(replaced)).toBe(true);
        expect(await storage.sessions.get('s')).toEqual(replaced);
        expect(await storage.sessions.update(session('ghost'))).toBe(false);
        expect(await storage.sessions.get('ghost')).toBeNull();
      });

      it('deletes a session with its auth keys, presences and subscriptions, and nothing of others', async () => {
        const storage = await make();
        for (const name of ['gone', 'kept']) {
          await storage.sessions.create(session(name));
          await storage.auth.forSession(name).set([{ category: 'creds', id: '', value: `${name}-creds` }]);
          await storage.presence.put(name, '1@c.us', [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: 10 }]);
          await storage.subscriptions.add(name, '1@c.us');
        }
        expect(await storage.sessions.delete('gone')).toBe(true);
        expect(await storage.sessions.get('gone')).toBeNull();
        expect(await storage.auth.forSession('gone').get('creds', [''])).toEqual({});
        expect(await storage.presence.list('gone')).toEqual([]);
        expect(await storage.subscriptions.list('gone')).toEqual([]);
        expect(await storage.sessions.delete('gone')).toBe(false);

        expect(await storage.sessions.get('kept')).not.toBeNull();
        expect(await storage.auth.forSession('kept').get('creds', [''])).toEqual({ '': 'kept-creds' });
        expect(await storage.presence.list('kept')).toHaveLength(1);
        expect(await storage.subscriptions.list('kept')).toEqual(['1@c.us']);
      });
    });

    describe('auth', () => {
      it('returns only the ids that exist, per session and category', async () => {
        const storage = await make();
        const auth = storage.auth.forSession('s');
        expect(await auth.get('pre-key', ['1', '2'])).toEqual({});
        await auth.set([
          { category: 'creds', id: '', value: '{"me":1}' },
          { category: 'pre-key', id: '1', value: 'one' },
          { category: 'pre-key', id: '2', value: 'two' },
          { category: 'session', id: '1', value: 'session-one' },
        ]);
        await storage.auth.forSession('other').set([{ category: 'pre-key', id: '3', value: 'three' }]);
        expect(await auth.get('pre-key', ['1', '2', '3', '4'])).toEqual({ '1': 'one', '2': 'two' });
        expect(await auth.get('session', ['1', '2'])).toEqual({ '1': 'session-one' });
        expect(await auth.get('creds', [''])).toEqual({ '': '{"me":1}' });
        expect(await auth.get('pre-key', [])).toEqual({});
      });

      it('overwrites values and deletes on null', async () => {
        const storage = await make();
        const auth = storage.auth.forSession('s');
        await auth.set([
          { category: 'pre-key', id: '1', value: 'one' },
          { category: 'pre-key', id: '2', value: 'two' },
        ]);
        await auth.set([
          { category: 'pre-key', id: '1', value: 'uno' },
          { category: 'pre-key', id: '2', value: null },
          { category: 'pre-key', id: '9', value: null },
        ]);
        expect(await auth.get('pre-key', ['1', '2', '9'])).toEqual({ '1': 'uno' });
        await auth.set([]);
        expect(await auth.get('pre-key', ['1'])).toEqual({ '1': 'uno' });
      });

      it('reads hundreds of ids at once, with ids that look like code', async () => {
        const storage = await make();
        const auth = storage.auth.forSession('s');
        const odd = ['__proto__', 'constructor', "it's", '"quoted"', 'a,b', 'ünï ☃', '%_', ''];
        const ids = [...Array.from({ length: 600 }, (_, i) => `id-${i}`), ...odd];
        await auth.set(ids.map((id) => ({ category: 'pre-key', id, value: `v:${id}` })));
        const wanted = [...ids.filter((_, i) => i % 3 === 0), ...odd, 'absent'];
        const got = await auth.get('pre-key', wanted);
        expect(Object.keys(got).sort()).toEqual([...new Set(wanted.filter((id) => id !== 'absent'))].sort());
        for (const id of odd) expect(Object.getOwnPropertyDescriptor(got, id)?.value).toBe(`v:${id}`);
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      });

      it('writes a batch all or nothing: a failure mid-batch leaves nothing of it', async () => {
        const storage = await make();
        const auth = storage.auth.forSession('s');
        await auth.set([
          { category: 'pre-key', id: 'kept', value: 'before' },
          { category: 'pre-key', id: 'doomed', value: 'still here' },
        ]);
        await fixture.poisonAuthValue('POISON');
        await expect(
          auth.set([
            { category: 'pre-key', id: 'kept', value: 'after' },
            { category: 'pre-key', id: 'doomed', value: null },
            { category: 'pre-key', id: 'new', value: 'fresh' },
            { category: 'session', id: 'bad', value: 'POISON' },
            { category: 'pre-key', id: 'late', value: 'late' },
          ]),
        ).rejects.toThrow();
        expect(await auth.get('pre-key', ['kept', 'doomed', 'new', 'late'])).toEqual({ kept: 'before', doomed: 'still here' });
        expect(await auth.get('session', ['bad'])).toEqual({});
        // The store is still usable after the failed transaction.
        await auth.set([{ category: 'pre-key', id: 'new', value: 'fresh' }]);
        expect(await auth.get('pre-key', ['new'])).toEqual({ new: 'fresh' });
      });

      it('clears one session only', async () => {
        const storage = await make();
        await storage.auth.forSession('a').set([{ category: 'creds', id: '', value: 'a' }, { category: 'pre-key', id: '1', value: 'a1' }]);
        await storage.auth.forSession('b').set([{ category: 'creds', id: '', value: 'b' }]);
        await storage.auth.forSession('a').clear();
        expect(await storage.auth.forSession('a').get('creds', [''])).toEqual({});
        expect(await storage.auth.forSession('a').get('pre-key', ['1'])).toEqual({});
        expect(await storage.auth.forSession('b').get('creds', [''])).toEqual({ '': 'b' });
      });
    });

    describe('presence', () => {
      it('answers null for an unknown chat and stores a contact', async () => {
        const storage = await make();
        expect(await storage.presence.get('s', '1@c.us')).toBeNull();
        await storage.presence.put('s', '1@c.us', [{ participant: '1@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }]);
        expect(await storage.presence.get('s', '1@c.us')).toEqual({
          id: '1@c.us',
          presences: [{ participant: '1@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }],
        });
        expect(await storage.presence.get('other', '1@c.us')).toBeNull();
      });

      it('upserts participants of a group and keeps the others', async () => {
        const storage = await make();
        const group = '120363000000000001@g.us';
        await storage.presence.put('s', group, [
          { participant: '1@c.us', lastKnownPresence: 'typing', lastSeen: null },
          { participant: '2@c.us', lastKnownPresence: 'online', lastSeen: null },
        ]);
        await storage.presence.put('s', group, [
          { participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_100 },
          { participant: '3@lid', lastKnownPresence: 'recording', lastSeen: null },
        ]);
        await storage.presence.put('s', group, []);
        const chat = await storage.presence.get('s', group);
        expect(chat?.id).toBe(group);
        expect([...(chat?.presences ?? [])].sort((a, b) => a.participant.localeCompare(b.participant))).toEqual([
          { participant: '1@c.us', lastKnownPresence: 'typing', lastSeen: null },
          { participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_100 },
          { participant: '3@lid', lastKnownPresence: 'recording', lastSeen: null },
        ]);
      });

      it('lists every chat of the session ordered by chat id, and clears one session', async () => {
        const storage = await make();
        await storage.presence.put('s', '9@c.us', [{ participant: '9@c.us', lastKnownPresence: 'paused', lastSeen: null }]);
        await storage.presence.put('s', '1@g.us', [
          { participant: '7@c.us', lastKnownPresence: 'online', lastSeen: null },
          { participant: '5@c.us', lastKnownPresence: 'online', lastSeen: 3 },
        ]);
        await storage.presence.put('s', '5@lid', [{ participant: '5@lid', lastKnownPresence: 'online', lastSeen: null }]);
        await storage.presence.put('other', '0@c.us', [{ participant: '0@c.us', lastKnownPresence: 'online', lastSeen: null }]);
        const list = await storage.presence.list('s');
        expect(list.map((chat) => chat.id)).toEqual(['1@g.us', '5@lid', '9@c.us']);
        expect(list[0]?.presences.map((p) => p.participant).sort()).toEqual(['5@c.us', '7@c.us']);
        expect(await storage.presence.list('nobody')).toEqual([]);
        await storage.presence.clear('s');
        expect(await storage.presence.list('s')).toEqual([]);
        expect(await storage.presence.list('other')).toHaveLength(1);
      });
    });

    describe('subscriptions', () => {
      it('adds idempotently and lists in the order of addition', async () => {
        const storage = await make();
        expect(await storage.subscriptions.add('s', 'z@c.us')).toBe(true);
        expect(await storage.subscriptions.add('s', 'a@c.us')).toBe(true);
        expect(await storage.subscriptions.add('s', 'm@g.us')).toBe(true);
        expect(await storage.subscriptions.add('s', 'z@c.us')).toBe(false);
        expect(await storage.subscriptions.add('other', 'a@c.us')).toBe(true);
        expect(await storage.subscriptions.list('s')).toEqual(['z@c.us', 'a@c.us', 'm@g.us']);
        expect(await storage.subscriptions.list('other')).toEqual(['a@c.us']);
      });

      it('removes, re-adds at the end, and clears one session', async () => {
        const storage = await make();
        for (const chat of ['1@c.us', '2@c.us', '3@c.us']) await storage.subscriptions.add('s', chat);
        await storage.subscriptions.add('other', '1@c.us');
        expect(await storage.subscriptions.remove('s', '1@c.us')).toBe(true);
        expect(await storage.subscriptions.remove('s', '1@c.us')).toBe(false);
        expect(await storage.subscriptions.add('s', '1@c.us')).toBe(true);
        expect(await storage.subscriptions.list('s')).toEqual(['2@c.us', '3@c.us', '1@c.us']);
        // Removing the newest and adding again still sorts after every other.
        await storage.subscriptions.remove('s', '1@c.us');
        await storage.subscriptions.add('s', '4@c.us');
        expect(await storage.subscriptions.list('s')).toEqual(['2@c.us', '3@c.us', '4@c.us']);
        await storage.subscriptions.clear('s');
        expect(await storage.subscriptions.list('s')).toEqual([]);
        expect(await storage.subscriptions.list('other')).toEqual(['1@c.us']);
      });
    });

    describe('settings', () => {
      it('gets, sets and overwrites', async () => {
        const storage = await make();
        expect(await storage.settings.get('apiKey')).toBeNull();
        await storage.settings.set('apiKey', 'one');
        await storage.settings.set('apiKey', 'two');
        expect(await storage.settings.get('apiKey')).toBe('two');
      });

      it('setIfAbsent keeps the first value and returns what is stored', async () => {
        const storage = await make();
        expect(await storage.settings.setIfAbsent('apiKey', 'first')).toBe('first');
        expect(await storage.settings.setIfAbsent('apiKey', 'second')).toBe('first');
        expect(await storage.settings.get('apiKey')).toBe('first');
      });

      it('setIfAbsent racing from two servers ends with one value that both see', async () => {
        const [one, two] = await Promise.all([make(), make()]);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).settings.setIfAbsent('apiKey', `key-${i}`)),
        );
        const stored = await one.settings.get('apiKey');
        expect(stored).not.toBeNull();
        expect(new Set(results)).toEqual(new Set([stored]));
        expect(await two.settings.get('apiKey')).toBe(stored);
      });
    });

    describe('database lifecycle', () => {
      it('keeps everything across close and reopen', async () => {
        const first = await make();
        const stored = session('s', { running: true, me: { id: '1@c.us', pushName: 'Me' } });
        await first.sessions.create(stored);
        await first.auth.forSession('s').set([{ category: 'creds', id: '', value: 'secret' }]);
        await first.presence.put('s', '1@c.us', [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: 7 }]);
        await first.subscriptions.add('s', '2@c.us');
        await first.subscriptions.add('s', '1@c.us');
        await first.settings.set('apiKey', 'k');
        await first.close();
        await first.close();

        const second = await make();
        expect(await second.sessions.list()).toEqual([stored]);
        expect(await second.auth.forSession('s').get('creds', [''])).toEqual({ '': 'secret' });
        expect(await second.presence.get('s', '1@c.us')).toEqual({
          id: '1@c.us',
          presences: [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: 7 }],
        });
        expect(await second.subscriptions.list('s')).toEqual(['2@c.us', '1@c.us']);
        expect(await second.settings.get('apiKey')).toBe('k');
      });

      it('applies each migration once, however often the database is opened', async () => {
        const first = await make();
        const versions = await fixture.appliedMigrations();
        expect(versions.length).toBeGreaterThan(0);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
        await first.close();
        await make();
        await make();
        expect(await fixture.appliedMigrations()).toEqual(versions);
      });

      it('lets several servers open a fresh database at the same moment', async () => {
        const storages = await Promise.all([make(), make(), make(), make()]);
        const versions = await fixture.appliedMigrations();
        expect(new Set(versions).size).toBe(versions.length);
        await storages[0]?.sessions.create(session('shared'));
        for (const storage of storages) expect(await storage.sessions.get('shared')).not.toBeNull();
      });
    });
  });
}

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import type { Storage } from '../../src/storage/index.js';
import { LeaseLostError } from '../../src/storage/index.js';
import type { StoredSession } from '../../src/storage/sessions.js';
import { describeHistoryStore } from './history-conformance.js';

/**
 * One backend's database for one test: a fresh SQLite directory or a fresh PostgreSQL schema.
 * Every `open()` opens a new Storage on that same database, so a test can close and reopen it, or
 * open two at once (two servers on one database).
 */
export interface StorageFixture {
  open(options?: { readonly clock?: Pick<Clock, 'now'> }): Promise<Storage>;
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

    async function make(clock?: Pick<Clock, 'now'>): Promise<Storage> {
      const storage = await fixture.open(clock === undefined ? {} : { clock });
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

    describeHistoryStore(() => make());

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
          await storage.subscriptions.add(name, '1@c.us', 1_700_000_000_000);
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
        expect(await storage.subscriptions.list('kept')).toEqual([{ chatId: '1@c.us', since: 1_700_000_000_000 }]);
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
        // The same key twice in one batch: applied in order, the last entry wins.
        await auth.set([
          { category: 'pre-key', id: '1', value: null },
          { category: 'pre-key', id: '1', value: 'eins' },
          { category: 'pre-key', id: '3', value: 'drei' },
          { category: 'pre-key', id: '3', value: null },
        ]);
        expect(await auth.get('pre-key', ['1', '3'])).toEqual({ '1': 'eins' });
        await auth.set([]);
        expect(await auth.get('pre-key', ['1'])).toEqual({ '1': 'eins' });
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

      it('keeps a hidden last seen apart from an unknown one, across an overwrite', async () => {
        const storage = await make();
        await storage.presence.put('s', '2@c.us', [{ participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: null, lastSeenHidden: true }]);
        await storage.presence.put('s', '3@c.us', [{ participant: '3@c.us', lastKnownPresence: 'offline', lastSeen: null }]);
        expect((await storage.presence.get('s', '2@c.us'))?.presences).toEqual([{ participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: null, lastSeenHidden: true }]);
        expect((await storage.presence.get('s', '3@c.us'))?.presences).toEqual([{ participant: '3@c.us', lastKnownPresence: 'offline', lastSeen: null }]);
        await storage.presence.put('s', '2@c.us', [{ participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }]);
        expect((await storage.presence.list('s')).find((chat) => chat.id === '2@c.us')?.presences).toEqual([{ participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_000 }]);
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
        // The same participant twice in one put: the last entry wins.
        await storage.presence.put('s', group, [
          { participant: '1@c.us', lastKnownPresence: 'online', lastSeen: null },
          { participant: '1@c.us', lastKnownPresence: 'typing', lastSeen: null },
        ]);
        const chat = await storage.presence.get('s', group);
        expect(chat?.id).toBe(group);
        expect([...(chat?.presences ?? [])].sort((a, b) => a.participant.localeCompare(b.participant))).toEqual([
          { participant: '1@c.us', lastKnownPresence: 'typing', lastSeen: null },
          { participant: '2@c.us', lastKnownPresence: 'offline', lastSeen: 1_700_000_100 },
          { participant: '3@lid', lastKnownPresence: 'recording', lastSeen: null },
        ]);
      });

      it('writes puts made without waiting in the order they were made: the newest of a chat wins', async () => {
        const storage = await make();
        const statuses = ['online', 'typing', 'paused', 'recording', 'offline'] as const;
        const puts: Promise<void>[] = [];
        for (let round = 0; round < 40; round += 1) {
          for (const chat of ['1@c.us', '2@c.us', '3@c.us']) {
            const status = statuses[round % statuses.length] ?? 'online';
            puts.push(storage.presence.put('s', chat, [{ participant: chat, lastKnownPresence: status, lastSeen: round }]));
          }
          puts.push(storage.presence.put('t', '1@c.us', [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: round }]));
        }
        await Promise.all(puts);
        for (const chat of ['1@c.us', '2@c.us', '3@c.us']) {
          expect(await storage.presence.get('s', chat)).toEqual({ id: chat, presences: [{ participant: chat, lastKnownPresence: 'offline', lastSeen: 39 }] });
        }
        expect(await storage.presence.get('t', '1@c.us')).toEqual({ id: '1@c.us', presences: [{ participant: '1@c.us', lastKnownPresence: 'online', lastSeen: 39 }] });
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
      const chats = async (storage: Storage, name: string): Promise<string[]> => (await storage.subscriptions.list(name)).map((sub) => sub.chatId);

      it('adds idempotently and lists in the order of addition', async () => {
        const storage = await make();
        expect(await storage.subscriptions.add('s', 'z@c.us', 1)).toBe(true);
        expect(await storage.subscriptions.add('s', 'a@c.us', 2)).toBe(true);
        expect(await storage.subscriptions.add('s', 'm@g.us', 3)).toBe(true);
        expect(await storage.subscriptions.add('s', 'z@c.us', 4)).toBe(false);
        expect(await storage.subscriptions.add('other', 'a@c.us', 5)).toBe(true);
        expect(await chats(storage, 's')).toEqual(['z@c.us', 'a@c.us', 'm@g.us']);
        expect(await chats(storage, 'other')).toEqual(['a@c.us']);
      });

      it('keeps when each chat was first subscribed, in ms beyond 32 bits; subscribing again keeps it', async () => {
        const storage = await make();
        const at = 1_760_000_000_123;
        await storage.subscriptions.add('s', '1@c.us', at);
        await storage.subscriptions.add('s', '2@g.us', at + 5);
        expect(await storage.subscriptions.add('s', '1@c.us', at + 10)).toBe(false);
        expect(await storage.subscriptions.list('s')).toEqual([
          { chatId: '1@c.us', since: at },
          { chatId: '2@g.us', since: at + 5 },
        ]);
        // Removed and subscribed again: a new subscription, with its own time.
        await storage.subscriptions.remove('s', '1@c.us');
        await storage.subscriptions.add('s', '1@c.us', at + 20);
        expect(await storage.subscriptions.list('s')).toEqual([
          { chatId: '2@g.us', since: at + 5 },
          { chatId: '1@c.us', since: at + 20 },
        ]);
      });

      it('removes, re-adds at the end, and clears one session', async () => {
        const storage = await make();
        for (const chat of ['1@c.us', '2@c.us', '3@c.us']) await storage.subscriptions.add('s', chat, 1);
        await storage.subscriptions.add('other', '1@c.us', 1);
        expect(await storage.subscriptions.remove('s', '1@c.us')).toBe(true);
        expect(await storage.subscriptions.remove('s', '1@c.us')).toBe(false);
        expect(await storage.subscriptions.remove('s', 'never@c.us')).toBe(false);
        expect(await storage.subscriptions.add('s', '1@c.us', 2)).toBe(true);
        expect(await chats(storage, 's')).toEqual(['2@c.us', '3@c.us', '1@c.us']);
        // Removing the newest and adding again still sorts after every other.
        await storage.subscriptions.remove('s', '1@c.us');
        await storage.subscriptions.add('s', '4@c.us', 3);
        expect(await chats(storage, 's')).toEqual(['2@c.us', '3@c.us', '4@c.us']);
        await storage.subscriptions.clear('s');
        expect(await storage.subscriptions.list('s')).toEqual([]);
        expect(await chats(storage, 'other')).toEqual(['1@c.us']);
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
        await first.subscriptions.add('s', '2@c.us', 10);
        await first.subscriptions.add('s', '1@c.us', 20);
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
        expect(await second.subscriptions.list('s')).toEqual([
          { chatId: '2@c.us', since: 10 },
          { chatId: '1@c.us', since: 20 },
        ]);
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

    describe('runtime statuses', () => {
      const clock = { now: (): number => 1_800_000_000_000 };

      it('records the lease owner\'s status and refuses anyone else\'s', async () => {
        const storage = await make(clock);
        await storage.sessions.create(session('a'));
        await storage.sessions.create(session('b'));
        const status = { session: 'a', status: 'WORKING', server: 'server-1', epoch: 1, engine: true, at: 5, reason: null } as const;
        // No lease yet: nobody may say what the session is doing.
        expect(await storage.statuses.put(status)).toBe(false);
        await storage.leases.acquire('server-1', { capacity: 10, ttlMs: 10_000 });
        expect(await storage.statuses.put(status)).toBe(true);
        expect(await storage.statuses.put({ ...status, session: 'b', status: 'STARTING', engine: false, at: 6 })).toBe(true);
        // Another server, or the owner with another epoch, is refused and changes nothing.
        expect(await storage.statuses.put({ ...status, server: 'server-2', status: 'STOPPED' })).toBe(false);
        expect(await storage.statuses.put({ ...status, epoch: 2, status: 'STOPPED' })).toBe(false);
        expect(await storage.statuses.list()).toEqual([status, { ...status, session: 'b', status: 'STARTING', engine: false, at: 6 }]);
        // The owner replaces its own row at every change.
        expect(await storage.statuses.put({ ...status, status: 'STOPPED', engine: false, at: 7 })).toBe(true);
        expect((await storage.statuses.list())[0]).toEqual({ ...status, status: 'STOPPED', engine: false, at: 7 });
        // With the reason the session reached it for (its `reason`), and without it again.
        const failed = { ...status, status: 'FAILED', engine: false, at: 8, reason: 'banned (403)' } as const;
        expect(await storage.statuses.put(failed)).toBe(true);
        expect((await storage.statuses.list())[0]).toEqual(failed);
        expect(await storage.statuses.put({ ...failed, status: 'STARTING', reason: null })).toBe(true);
        expect((await storage.statuses.list())[0]).toEqual({ ...failed, status: 'STARTING', reason: null });
      });

      it('keeps the new owner\'s status when the old one writes late, and forgets a deleted session\'s', async () => {
        let now = clock.now();
        const storage = await make({ now: () => now });
        await storage.sessions.create(session('a', { running: true }));
        await storage.leases.acquire('server-1', { capacity: 1, ttlMs: 1_000 });
        const old = { session: 'a', status: 'WORKING', server: 'server-1', epoch: 1, engine: true, at: 1, reason: null } as const;
        expect(await storage.statuses.put(old)).toBe(true);
        now += 1_000;
        await storage.leases.acquire('server-2', { capacity: 1, ttlMs: 1_000 });
        const fresh = { session: 'a', status: 'STARTING', server: 'server-2', epoch: 2, engine: true, at: 2, reason: null } as const;
        expect(await storage.statuses.put(fresh)).toBe(true);
        // server-1 wakes up and reports its engine stopped: refused, the new owner's row stays.
        expect(await storage.statuses.put({ ...old, status: 'STOPPED', engine: false, at: 3 })).toBe(false);
        expect(await storage.statuses.list()).toEqual([fresh]);
        await storage.sessions.delete('a');
        expect(await storage.statuses.list()).toEqual([]);
      });
    });

    describe('leases', () => {
      /** A clock the test moves by hand; lease expiry never needs a sleep. */
      function manualClock(start = 1_800_000_000_000): { now: () => number; advance(ms: number): void } {
        let time = start;
        return { now: () => time, advance: (ms) => (time += ms) };
      }

      async function withSessions(storage: Storage, names: readonly string[], running: readonly string[] = []): Promise<void> {
        for (const name of names) await storage.sessions.create(session(name, { running: running.includes(name) }));
      }

      it('acquires free sessions up to the capacity, running ones first, at epoch 1', async () => {
        const clock = manualClock();
        const storage = await make(clock);
        await withSessions(storage, ['a', 'b', 'c', 'd'], ['c']);
        const taken = await storage.leases.acquire('server-1', { capacity: 2, ttlMs: 10_000 });
        expect(taken).toEqual([
          { session: 'a', owner: 'server-1', epoch: 1, expiresAt: clock.now() + 10_000 },
          { session: 'c', owner: 'server-1', epoch: 1, expiresAt: clock.now() + 10_000 },
        ]);
        // Holding its capacity, the owner takes nothing more; another server takes the rest.
        expect(await storage.leases.acquire('server-1', { capacity: 2, ttlMs: 10_000 })).toEqual([]);
        const rest = await storage.leases.acquire('server-2', { capacity: 10, ttlMs: 10_000 });
        expect(rest.map((lease) => lease.session)).toEqual(['b', 'd']);
        expect(await storage.leases.acquire('server-3', { capacity: 10, ttlMs: 10_000 })).toEqual([]);
        expect((await storage.leases.list()).map((lease) => [lease.session, lease.owner])).toEqual([
          ['a', 'server-1'],
          ['b', 'server-2'],
          ['c', 'server-1'],
          ['d', 'server-2'],
        ]);
        expect(await storage.leases.get('c')).toEqual(taken[1]);
        expect(await storage.leases.get('unknown')).toBeNull();
      });

      it('acquires only the named sessions when asked, and refuses a nonsensical capacity or ttl', async () => {
        const storage = await make(manualClock());
        await withSessions(storage, ['a', 'b', 'c']);
        const taken = await storage.leases.acquire('server-1', { capacity: 5, ttlMs: 1_000, sessions: ['c', 'ghost'] });
        expect(taken.map((lease) => lease.session)).toEqual(['c']);
        await expect(storage.leases.acquire('server-1', { capacity: -1, ttlMs: 1_000 })).rejects.toThrow(/capacity/);
        await expect(storage.leases.acquire('server-1', { capacity: 1, ttlMs: 0 })).rejects.toThrow(/ttlMs/);
        await expect(storage.leases.renew('server-1', Number.NaN)).rejects.toThrow(/ttlMs/);
      });

      it('takes over expired leases with the next epoch; the old owner cannot renew them', async () => {
        const clock = manualClock();
        const storage = await make(clock);
        await withSessions(storage, ['a', 'b']);
        await storage.leases.acquire('server-1', { capacity: 10, ttlMs: 10_000 });
        clock.advance(9_999);
        expect(await storage.leases.acquire('server-2', { capacity: 10, ttlMs: 10_000 })).toEqual([]);
        clock.advance(1);
        expect(await storage.leases.get('a')).toBeNull();
        const taken = await storage.leases.acquire('server-2', { capacity: 10, ttlMs: 10_000 });
        expect(taken.map((lease) => [lease.session, lease.owner, lease.epoch])).toEqual([
          ['a', 'server-2', 2],
          ['b', 'server-2', 2],
        ]);
        expect(await storage.leases.renew('server-1', 10_000)).toEqual([]);
        expect((await storage.leases.get('a'))?.owner).toBe('server-2');
      });

      it('renews only live leases: an expired lease is lost even if nobody took it', async () => {
        const clock = manualClock();
        const storage = await make(clock);
        await withSessions(storage, ['a', 'b']);
        await storage.leases.acquire('server-1', { capacity: 1, ttlMs: 10_000 });
        clock.advance(5_000);
        const renewed = await storage.leases.renew('server-1', 10_000);
        expect(renewed).toEqual([{ session: 'a', owner: 'server-1', epoch: 1, expiresAt: clock.now() + 10_000 }]);
        clock.advance(10_000);
        expect(await storage.leases.renew('server-1', 10_000)).toEqual([]);
        // Acquiring it again is a new epoch: anything the paused incarnation still writes is fenced.
        const again = await storage.leases.acquire('server-1', { capacity: 1, ttlMs: 10_000 });
        expect(again.map((lease) => [lease.session, lease.epoch])).toEqual([['a', 2]]);
      });

      it('releases at once, all or some, and the next owner gets a new epoch', async () => {
        const clock = manualClock();
        const storage = await make(clock);
        await withSessions(storage, ['a', 'b', 'c']);
        await storage.leases.acquire('server-1', { capacity: 10, ttlMs: 60_000 });
        expect(await storage.leases.release('server-2')).toEqual([]);
        expect(await storage.leases.release('server-1', ['b'])).toEqual(['b']);
        expect((await storage.leases.list()).map((lease) => lease.session)).toEqual(['a', 'c']);
        expect(await storage.leases.release('server-1')).toEqual(['a', 'c']);
        expect(await storage.leases.list()).toEqual([]);
        const taken = await storage.leases.acquire('server-2', { capacity: 10, ttlMs: 60_000 });
        expect(taken.map((lease) => [lease.session, lease.epoch])).toEqual([
          ['a', 2],
          ['b', 2],
          ['c', 2],
        ]);
      });

      it('forgets the lease of a deleted session', async () => {
        const storage = await make(manualClock());
        await withSessions(storage, ['a']);
        await storage.leases.acquire('server-1', { capacity: 1, ttlMs: 60_000 });
        await storage.sessions.delete('a');
        expect(await storage.leases.list()).toEqual([]);
        await withSessions(storage, ['a']);
        const taken = await storage.leases.acquire('server-2', { capacity: 1, ttlMs: 60_000 });
        expect(taken.map((lease) => [lease.session, lease.epoch])).toEqual([['a', 1]]);
      });

      it('never gives one session to two servers acquiring at the same moment', async () => {
        const clock = manualClock();
        const servers = await Promise.all([make(clock), make(clock), make(clock)]);
        const names = Array.from({ length: 30 }, (_, i) => `s${String(i).padStart(2, '0')}`);
        await withSessions(servers[0], names);
        const rounds = await Promise.all(
          servers.map((storage, i) => storage.leases.acquire(`server-${i}`, { capacity: 30, ttlMs: 60_000 })),
        );
        const taken = rounds.flat().map((lease) => lease.session);
        expect(new Set(taken).size).toBe(taken.length);
        const live = await (servers[0]).leases.list();
        expect(live.map((lease) => lease.session).sort()).toEqual([...taken].sort());
        for (const lease of live) expect(lease.epoch).toBe(1);
      });

      it('refuses auth writes with a stale epoch and keeps the new owner\'s keys', async () => {
        const clock = manualClock();
        const storage = await make(clock);
        await withSessions(storage, ['s']);
        const [first] = await storage.leases.acquire('server-1', { capacity: 1, ttlMs: 10_000 });
        if (first === undefined) throw new Error('server-1 should have taken the session');
        const stale = storage.auth.forSession('s', { owner: first.owner, epoch: first.epoch });
        await stale.set([{ category: 'creds', id: '', value: 'from server-1' }]);

        // server-1 is paused past its lease; server-2 takes the session over and writes.
        clock.advance(10_000);
        const [second] = await storage.leases.acquire('server-2', { capacity: 1, ttlMs: 10_000 });
        if (second === undefined) throw new Error('server-2 should have taken the session');
        expect(second.epoch).toBe(first.epoch + 1);
        const current = storage.auth.forSession('s', { owner: second.owner, epoch: second.epoch });
        await current.set([{ category: 'creds', id: '', value: 'from server-2' }, { category: 'pre-key', id: '1', value: 'k2' }]);

        // server-1 wakes up and writes with what it believes: refused, nothing written.
        const refused = stale.set([{ category: 'creds', id: '', value: 'stale' }, { category: 'pre-key', id: '9', value: 'stale' }]);
        await expect(refused).rejects.toBeInstanceOf(LeaseLostError);
        await expect(refused).rejects.toThrow(/server-2 at epoch 2/);
        await expect(stale.clear()).rejects.toBeInstanceOf(LeaseLostError);
        // Same owner name, old epoch (the server restarted and re-acquired): refused too.
        await expect(storage.auth.forSession('s', { owner: 'server-2', epoch: 1 }).set([{ category: 'creds', id: '', value: 'x' }])).rejects.toBeInstanceOf(LeaseLostError);
        expect(await current.get('creds', [''])).toEqual({ '': 'from server-2' });
        expect(await current.get('pre-key', ['1', '9'])).toEqual({ '1': 'k2' });

        // Once released, even the last owner's writes are refused; unfenced writes (one server) are not checked.
        await storage.leases.release('server-2');
        await expect(current.set([{ category: 'creds', id: '', value: 'late' }])).rejects.toBeInstanceOf(LeaseLostError);
        await expect(storage.auth.forSession('nobody', { owner: 'server-2', epoch: 1 }).set([{ category: 'creds', id: '', value: 'x' }])).rejects.toThrow(/has no lease/);
        await storage.auth.forSession('s').set([{ category: 'creds', id: '', value: 'single server' }]);
        expect(await current.get('creds', [''])).toEqual({ '': 'single server' });
      });

      it('fences writes from another connection (a second server on the same database)', async () => {
        const clock = manualClock();
        const [one, two] = await Promise.all([make(clock), make(clock)]);
        await withSessions(one, ['s']);
        const [lease] = await one.leases.acquire('server-1', { capacity: 1, ttlMs: 1_000 });
        if (lease === undefined) throw new Error('server-1 should have taken the session');
        clock.advance(1_000);
        await two.leases.acquire('server-2', { capacity: 1, ttlMs: 1_000 });
        await expect(one.auth.forSession('s', lease).set([{ category: 'creds', id: '', value: 'stale' }])).rejects.toBeInstanceOf(LeaseLostError);
        expect(await two.auth.forSession('s').get('creds', [''])).toEqual({});
      });
    });
  });
}

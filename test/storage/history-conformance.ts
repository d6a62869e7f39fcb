import { describe, expect, it } from 'vitest';
import type { SessionChange, StoredChange } from '../../src/storage/history.js';
import type { Storage } from '../../src/storage/index.js';

const change = (chatId: string, participant: string, presence: StoredChange['presence'], at: number, lastSeen: number | null = null, session = 's'): SessionChange => ({
  session,
  chatId,
  participant,
  presence,
  at,
  lastSeen,
});

const strip = ({ session: _session, ...rest }: SessionChange): StoredChange => rest;

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const A = '1@c.us';
const G = '123@g.us';
const P1 = '2@c.us';
const P2 = '3@c.us';

/** Presence history: part of the storage conformance suite, so both backends pass exactly this. */
export function describeHistoryStore(make: () => Promise<Storage>): void {
  describe('presence history', () => {
    it('appends changes and answers a chat range by participant then time, bounds included', async () => {
      const { history } = await make();
      const rows = [change(G, P2, 'online', 100), change(G, P1, 'typing', 150), change(G, P2, 'offline', 200, 190), change(G, P1, 'offline', 300, null), change(A, A, 'online', 120)];
      await history.append(rows);
      expect(await history.range({ session: 's', chatId: G, from: 100, to: 200 })).toEqual([strip(rows[1]!), strip(rows[0]!), strip(rows[2]!)]);
      expect(await history.range({ session: 's', chatId: G, participant: P1, from: 0, to: 1000 })).toEqual([strip(rows[1]!), strip(rows[3]!)]);
      expect(await history.range({ session: 'other', chatId: G, from: 0, to: 1000 })).toEqual([]);
      expect(await history.last('s', G, P2)).toEqual(strip(rows[2]!));
      expect(await history.last('s', G, '9@c.us')).toBeNull();
    });

    it('finds each participant\'s last change before a time', async () => {
      const { history } = await make();
      await history.append([change(G, P1, 'online', 10), change(G, P1, 'offline', 20, 15), change(G, P2, 'typing', 30), change(G, P2, 'online', 500)]);
      expect(await history.before('s', G, undefined, 100)).toEqual([strip(change(G, P1, 'offline', 20, 15)), strip(change(G, P2, 'typing', 30))]);
      expect(await history.before('s', G, P2, 25)).toEqual([]);
      expect(await history.before('s', G, P2, 31)).toEqual([strip(change(G, P2, 'typing', 30))]);
      expect(await history.before('s', A, undefined, 100)).toEqual([]);
    });

    it('records gaps: stop opens one, start closes it, a second stop does not open another', async () => {
      const { history } = await make();
      await history.startListening('s', 100);
      expect(await history.gaps('s', 0, 10_000)).toEqual([]);
      await history.stopListening('s', 200, 100);
      await history.stopListening('s', 250, 100);
      expect(await history.gaps('s', 0, 10_000)).toEqual([{ from: 200, to: null }]);
      await history.startListening('s', 300);
      expect(await history.gaps('s', 0, 10_000)).toEqual([{ from: 200, to: 300 }]);
      expect(await history.gaps('s', 301, 10_000)).toEqual([]);
      expect(await history.gaps('s', 300, 300)).toEqual([{ from: 200, to: 300 }]);
      expect(await history.gaps('other', 0, 10_000)).toEqual([]);
    });

    it('turns a listening marker left by a crash into a gap from the last heartbeat to the next start', async () => {
      const first = await make();
      await first.history.startListening('s', 1_000);
      await first.history.heartbeat([{ session: 's', since: 1_000 }, { session: 'not-listening', since: 1 }], 5_000);
      // A heartbeat under another start's marker changes nothing.
      await first.history.heartbeat([{ session: 's', since: 999 }], 7_000);
      await first.close();
      const second = await make();
      await second.history.startListening('s', 9_000);
      expect(await second.history.gaps('s', 0, 100_000)).toEqual([{ from: 5_000, to: 9_000 }]);
    });

    it('leaves the listening to a server that took the session over: a late stop of the old one opens no gap', async () => {
      const [one, two] = await Promise.all([make(), make()]);
      await one.history.startListening('s', 100);
      await one.history.heartbeat([{ session: 's', since: 100 }], 150);
      // The other server starts while the first is stalled: from the first's last heartbeat, nobody listened.
      await two.history.startListening('s', 200);
      await one.history.stopListening('s', 300, 100);
      expect(await two.history.gaps('s', 0, 10_000)).toEqual([{ from: 150, to: 200 }]);
      await two.history.stopListening('s', 400, 200);
      expect(await two.history.gaps('s', 0, 10_000)).toEqual([{ from: 150, to: 200 }, { from: 400, to: null }]);
    });

    it('exports a session or a chat in time order, in pages, ties by insertion order', async () => {
      const { history } = await make();
      const rows = [change(A, A, 'online', 10), change(G, P1, 'online', 20), change(A, A, 'offline', 20, 19), change(G, P1, 'paused', 20), change(A, A, 'online', 40), change(A, A, 'offline', 90)];
      await history.append(rows);
      expect(await all(history.export({ session: 's', from: 10, to: 40, batchSize: 2 }))).toEqual(rows.slice(0, 5).map(strip));
      expect(await all(history.export({ session: 's', chatId: A, from: 0, to: 100, batchSize: 1 }))).toEqual([rows[0], rows[2], rows[4], rows[5]].map((row) => strip(row!)));
      expect(await all(history.export({ session: 's', from: 91, to: 100 }))).toEqual([]);
    });

    it('forgets a chat, then a whole session', async () => {
      const { history } = await make();
      await history.append([change(A, A, 'online', 10), change(G, P1, 'online', 20), change(A, A, 'online', 10, null, 't')]);
      await history.startListening('s', 25);
      await history.stopListening('s', 30, 25);
      expect(await history.deleteChat('s', A)).toBe(1);
      expect(await history.range({ session: 's', chatId: A, from: 0, to: 100 })).toEqual([]);
      expect(await history.range({ session: 't', chatId: A, from: 0, to: 100 })).toHaveLength(1);
      expect(await history.sessions()).toEqual(['s', 't']);
      await history.deleteSession('s');
      expect(await history.range({ session: 's', chatId: G, from: 0, to: 100 })).toEqual([]);
      expect(await history.gaps('s', 0, 100)).toEqual([]);
      expect(await history.sessions()).toEqual(['t']);
    });

    it('retention deletes at most the batch size of rows older than the cutoff, and ended gaps before it', async () => {
      const { history } = await make();
      await history.append([1, 2, 3, 4, 5].map((at) => change(A, A, at % 2 === 0 ? 'offline' : 'online', at)));
      await history.append([change(A, A, 'online', 1, null, 't')]);
      await history.startListening('s', 0);
      await history.stopListening('s', 1, 0);
      await history.startListening('s', 2);
      await history.stopListening('s', 10, 2);
      expect(await history.deleteOlderThan('s', 5, 3)).toBe(3);
      expect(await history.deleteOlderThan('s', 5, 3)).toBe(1);
      expect(await history.deleteOlderThan('s', 5, 3)).toBe(0);
      expect((await history.range({ session: 's', chatId: A, from: 0, to: 100 })).map((row) => row.at)).toEqual([5]);
      expect(await history.range({ session: 't', chatId: A, from: 0, to: 100 })).toHaveLength(1);
      expect(await history.gaps('s', 0, 100)).toEqual([{ from: 10, to: null }]);
    });

    it('runs retention under a lock that a second server on the same database cannot take meanwhile (PostgreSQL)', async () => {
      const [one, two] = await Promise.all([make(), make()]);
      const inner = await one.history.withRetentionLock(() => two.history.withRetentionLock(() => Promise.resolve('ran')));
      expect(inner).toBe(one.backend === 'postgres' ? null : 'ran');
      expect(await two.history.withRetentionLock(() => Promise.resolve('after'))).toBe('after');
    });
  });
}
